import assert from "node:assert/strict";
import {
  checkDestination,
  DestinationRefused,
  pinnedRequestTarget,
} from "../../supabase/functions/_shared/ssrf.ts";

// DNS is the outside world: each test answers it with a plain function.
function dns(answers: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve = (host: string) => {
    asked.push(host);
    return Promise.resolve(answers[host] ?? []);
  };
  return { resolve, asked };
}

const PUBLIC_V4 = "93.184.215.14";
const PUBLIC_V6 = "2606:4700::1111";

async function refusal(
  url: string,
  opts: Parameters<typeof checkDestination>[1],
): Promise<DestinationRefused> {
  try {
    const checked = await checkDestination(url, opts);
    assert.fail(`${url} passed with ${checked.addresses.join(", ")}`);
  } catch (e) {
    if (!(e instanceof DestinationRefused)) throw e;
    assert.equal(e.field, "url");
    return e;
  }
}

Deno.test("https to a public IPv4 or IPv6 literal passes, without DNS", async () => {
  const { resolve, asked } = dns({});
  const v4 = await checkDestination(`https://${PUBLIC_V4}/hooks`, {
    allowPrivate: false,
    resolve,
  });
  assert.equal(v4.url.href, `https://${PUBLIC_V4}/hooks`);
  assert.deepEqual(v4.addresses, [PUBLIC_V4]);
  const v6 = await checkDestination(
    "https://[2606:4700:0:0:0:0:0:1111]:8443/",
    {
      allowPrivate: false,
      resolve,
    },
  );
  assert.deepEqual(v6.addresses, [PUBLIC_V6]);
  assert.deepEqual(asked, []);
});

Deno.test("a name resolving to public addresses passes with all of them", async () => {
  const { resolve, asked } = dns({
    "hooks.example.com": [PUBLIC_V4, PUBLIC_V6, PUBLIC_V4],
  });
  const checked = await checkDestination(
    "https://Hooks.Example.com/in?x=1",
    { allowPrivate: false, resolve },
  );
  assert.deepEqual(asked, ["hooks.example.com"]);
  assert.deepEqual(checked.addresses, [PUBLIC_V4, PUBLIC_V6]);
});

Deno.test("http is refused unless allowPrivate", async () => {
  const e = await refusal(`http://${PUBLIC_V4}/`, { allowPrivate: false });
  assert.equal(e.rule, "https_only");
  const checked = await checkDestination(`http://${PUBLIC_V4}/`, {
    allowPrivate: true,
  });
  assert.deepEqual(checked.addresses, [PUBLIC_V4]);
});

Deno.test("other schemes are refused even with allowPrivate", async () => {
  for (const url of ["ftp://example.com/", "file:///etc/passwd", "ws://x/"]) {
    const e = await refusal(url, { allowPrivate: true });
    assert.equal(e.rule, "https_only", url);
  }
});

Deno.test("a URL that does not parse is refused", async () => {
  for (const url of ["", "hooks.example.com", "https://", "https://a:99999/"]) {
    const e = await refusal(url, { allowPrivate: false });
    assert.equal(e.rule, "invalid_url", url);
  }
});

Deno.test("a user name or password in the URL is refused", async () => {
  const { resolve } = dns({ "example.com": [PUBLIC_V4] });
  for (
    const url of [
      "https://user:pass@example.com/",
      "https://user@example.com/",
      "https://:pass@example.com/",
    ]
  ) {
    const e = await refusal(url, { allowPrivate: false, resolve });
    assert.equal(e.rule, "credentials_in_url", url);
  }
});

Deno.test("any port but 0 is allowed", async () => {
  const { resolve } = dns({ "example.com": [PUBLIC_V4] });
  for (const port of [1, 22, 6379, 8443, 65535]) {
    await checkDestination(`https://example.com:${port}/`, {
      allowPrivate: false,
      resolve,
    });
  }
  const e = await refusal("https://example.com:0/", {
    allowPrivate: false,
    resolve,
  });
  assert.equal(e.rule, "port");
});

// Each spelling of an address that is not a public server, by the rule that
// names its ipaddr.js range.
const REFUSED: [string, string][] = [
  ["https://127.0.0.1/", "address_range:loopback"],
  ["https://2130706433/", "address_range:loopback"], // decimal 127.0.0.1
  ["https://0x7f.0.0.1/", "address_range:loopback"],
  ["https://0x7f.1/", "address_range:loopback"],
  ["https://0177.0.0.1/", "address_range:loopback"], // octal
  ["https://127.1/", "address_range:loopback"],
  ["https://[::1]/", "address_range:loopback"],
  ["https://[::ffff:10.0.0.1]/", "address_range:private"],
  ["https://[::ffff:7f00:1]/", "address_range:loopback"],
  ["https://[::ffff:8.8.8.8]/", "address_range:ipv4Mapped"],
  ["https://[::7f00:1]/", "address_range:ipv4Compatible"],
  ["https://169.254.169.254/latest/meta-data/", "address_range:linkLocal"],
  ["https://100.64.0.1/", "address_range:carrierGradeNat"],
  ["https://10.0.0.1/", "address_range:private"],
  ["https://192.168.1.1/", "address_range:private"],
  ["https://172.16.0.1/", "address_range:private"],
  ["https://[fc00::1]/", "address_range:uniqueLocal"],
  ["https://[fe80::1]/", "address_range:linkLocal"],
  ["https://0.0.0.0/", "address_range:unspecified"],
  ["https://[::]/", "address_range:unspecified"],
  ["https://224.0.0.1/", "address_range:multicast"],
  ["https://[ff02::1]/", "address_range:multicast"],
  ["https://255.255.255.255/", "address_range:broadcast"],
  ["https://192.0.2.1/", "address_range:reserved"],
  ["https://[64:ff9b::a00:1]/", "address_range:rfc6052"], // NAT64
  ["https://[2002:a00:1::]/", "address_range:6to4"],
  ["https://[2001:0::1]/", "address_range:teredo"],
];

for (const [url, rule] of REFUSED) {
  Deno.test(`${url} is refused as ${rule}`, async () => {
    const { resolve, asked } = dns({});
    const e = await refusal(url, { allowPrivate: false, resolve });
    assert.equal(e.rule, rule);
    assert.deepEqual(asked, [], "an IP literal is not resolved");
  });
}

Deno.test("a name resolving to a private address is refused", async () => {
  const { resolve } = dns({ "internal.example.com": ["10.0.0.1"] });
  const e = await refusal("https://internal.example.com/", {
    allowPrivate: false,
    resolve,
  });
  assert.equal(e.rule, "address_range:private");
  assert.match(e.message, /internal\.example\.com/);
});

Deno.test("a name resolving to one public and one private address is refused", async () => {
  for (
    const answer of [
      [PUBLIC_V4, "10.0.0.1"],
      ["::1", PUBLIC_V4],
      [PUBLIC_V6, "::ffff:169.254.169.254"],
    ]
  ) {
    const { resolve } = dns({ "rebind.example.com": answer });
    const e = await refusal("https://rebind.example.com/", {
      allowPrivate: false,
      resolve,
    });
    assert.match(e.rule, /^address_range:/, answer.join(", "));
  }
});

Deno.test("a resolver's address is judged however it is spelt", async () => {
  const { resolve } = dns({ "odd.example.com": ["2130706433"] });
  const e = await refusal("https://odd.example.com/", {
    allowPrivate: false,
    resolve,
  });
  assert.equal(e.rule, "address_range:loopback");
});

Deno.test("a name with no addresses, or an answer that is not one, is unresolvable", async () => {
  for (const answer of [[], ["not-an-ip"]]) {
    const { resolve } = dns({ "gone.example.com": answer });
    const e = await refusal("https://gone.example.com/", {
      allowPrivate: false,
      resolve,
    });
    assert.equal(e.rule, "unresolvable");
  }
});

Deno.test("a DNS failure is thrown as it is, not as a refusal", async () => {
  const failure = new Error("SERVFAIL");
  await assert.rejects(
    checkDestination("https://flaky.example.com/", {
      allowPrivate: false,
      resolve: () => Promise.reject(failure),
    }),
    (e) => e === failure,
  );
});

Deno.test("allowPrivate lets http://127.0.0.1:8080 and private names through", async () => {
  const local = await checkDestination("http://127.0.0.1:8080/hook", {
    allowPrivate: true,
  });
  assert.deepEqual(local.addresses, ["127.0.0.1"]);
  const { resolve } = dns({
    "dev.internal": ["10.0.0.1", "fd00::2", "fe80::1", "::1"],
  });
  const named = await checkDestination("http://dev.internal/", {
    allowPrivate: true,
    resolve,
  });
  assert.deepEqual(named.addresses, ["10.0.0.1", "fd00::2", "fe80::1", "::1"]);
});

Deno.test("allowPrivate still refuses unspecified, multicast, broadcast, CGNAT and mapped addresses", async () => {
  for (
    const [url, rule] of [
      ["http://0.0.0.0:8080/", "address_range:unspecified"],
      ["http://[::]:8080/", "address_range:unspecified"],
      ["http://224.0.0.1/", "address_range:multicast"],
      ["http://255.255.255.255/", "address_range:broadcast"],
      ["http://100.64.0.1/", "address_range:carrierGradeNat"],
      ["http://[::ffff:127.0.0.1]/", "address_range:ipv4Mapped"],
    ]
  ) {
    const e = await refusal(url, { allowPrivate: true });
    assert.equal(e.rule, rule, url);
  }
});

Deno.test("pinnedRequestTarget puts the address in the URL and keeps the Host", () => {
  const v4 = pinnedRequestTarget(
    new URL("http://hooks.example.com:8080/in?a=1"),
    "10.0.0.1",
  );
  assert.equal(v4.connectUrl.href, "http://10.0.0.1:8080/in?a=1");
  assert.equal(v4.hostHeader, "hooks.example.com:8080");
  const v6 = pinnedRequestTarget(
    new URL("http://hooks.example.com/in"),
    "fd00:0::2",
  );
  assert.equal(v6.connectUrl.href, "http://[fd00::2]/in");
  assert.equal(v6.hostHeader, "hooks.example.com");
});

Deno.test("pinnedRequestTarget refuses https, whose certificate names the host", () => {
  assert.throws(
    () => pinnedRequestTarget(new URL("https://hooks.example.com/"), PUBLIC_V4),
    TypeError,
  );
});

Deno.test("a pinned http request reaches the checked address with the original Host", async () => {
  const seen: { host: string | null; path: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => {
      seen.push({
        host: req.headers.get("host"),
        path: new URL(req.url).pathname,
      });
      return new Response("ok");
    },
  );
  // Without allowHost, Deno's fetch drops the Host header set below.
  const client = Deno.createHttpClient({ allowHost: true });
  try {
    const name = `hooks.example.test:${server.addr.port}`;
    const { resolve } = dns({ "hooks.example.test": ["127.0.0.1"] });
    const checked = await checkDestination(`http://${name}/in`, {
      allowPrivate: true,
      resolve,
    });
    const { connectUrl, hostHeader } = pinnedRequestTarget(
      checked.url,
      checked.addresses[0],
    );
    const res = await fetch(connectUrl, {
      method: "POST",
      body: "{}",
      headers: { host: hostHeader },
      client,
    });
    assert.equal(await res.text(), "ok");
    assert.deepEqual(seen, [{ host: name, path: "/in" }]);
  } finally {
    client.close();
    await server.shutdown();
  }
});
