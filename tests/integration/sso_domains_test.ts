// SSO email domains proved by a DNS TXT record, end to end: an owner claims a
// domain through supabase-js, publishes `_meridian-verification.<domain>` on a
// real DNS server on loopback (tests/support/dns_server.ts), and the sso
// function's POST /domains/verify reads it with Deno.resolveDns. Then: one
// organization per verified domain, who may claim and read domains, and the
// sign-in rules that depend on them (an OIDC sign-in for an unverified domain
// is refused and audited; /authorize?domain= finds the verified one).
//
// The seed turns DNS verification off for local development, so each test
// turns it on, pointed at its own DNS server, and turns it back off in a
// finally: the policy is one row shared by the whole stack. Every domain is
// new per run (a verified domain belongs to one organization forever).
import assert from "node:assert/strict";
import type postgres from "postgres";
import { adminSql, client, createUser, stack } from "../support/stack.ts";
import { type DnsServer, startDnsServer } from "../support/dns_server.ts";
import { startOpenIdProvider } from "../support/openid_provider.ts";
import { pkce } from "../support/sso_app.ts";

const APP = "http://localhost:3000/auth/callback";
const RECORD_PREFIX = "_meridian-verification";

const functionsUrl = () => `${stack().apiUrl}/functions/v1/sso`;
const newDomain = (label: string) =>
  `${label}-${crypto.randomUUID().slice(0, 8)}.example`;
const recordName = (domain: string) => `${RECORD_PREFIX}.${domain}`;
const recordValue = (token: string) => `meridian-verification=${token}`;

/** Runs `fn` with DNS verification required and asked of `dns`, then restores the seed's policy. */
async function withDnsVerification<T>(
  sql: postgres.Sql,
  dns: DnsServer,
  fn: () => Promise<T>,
): Promise<T> {
  await sql`update private.sso_domain_policy
            set dns_verification_required = true, dns_nameserver = ${dns.address}`;
  try {
    return await fn();
  } finally {
    await sql`update private.sso_domain_policy
              set dns_verification_required = false, dns_nameserver = null`;
  }
}

async function createOrg(token: string, name: string) {
  const { data, error } = await client(token).rpc("create_organization", {
    p_name: name,
    p_slug: `${name.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`,
  });
  assert.equal(error, null, JSON.stringify(error));
  return data!;
}

/** The claimed domain's row, as add_sso_domain returns it. */
async function claim(token: string, orgId: string, domain: string) {
  const res = await client(token).rpc("add_sso_domain", {
    p_org_id: orgId,
    p_domain: domain,
  });
  assert.equal(res.error, null, JSON.stringify(res.error));
  return res.data!;
}

type VerifyBody = {
  domain?: string;
  verified?: boolean;
  verified_at?: string | null;
  error?: string | { code: string; message: string } | null;
  record?: { name: string; type: string; value: string };
};

async function verify(
  token: string,
  orgId: string,
  domain: string,
): Promise<{ status: number; body: VerifyBody }> {
  const res = await fetch(`${functionsUrl()}/domains/verify`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ org_id: orgId, domain }),
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("the test DNS server answers Deno.resolveDns: TXT, NXDOMAIN, silence, and TCP when UDP truncates", async () => {
  // The sso function's lookup is Deno.resolveDns with a nameServer: what
  // these tests rely on is that it reads this server, as it is checked here.
  const dns = await startDnsServer({
    "proof.example": ["v=spf1 -all", `long=${"x".repeat(300)}`],
    "no-txt.example": [],
  });
  try {
    const options = { nameServer: { ipAddr: "127.0.0.1", port: dns.port } };
    const records = await Deno.resolveDns("Proof.Example", "TXT", options);
    assert.deepEqual(records.map((chunks) => chunks.join("")).sort(), [
      `long=${"x".repeat(300)}`,
      "v=spf1 -all",
    ]);
    assert.ok(
      records.some((chunks) => chunks.length === 2),
      "a value over 255 bytes arrives as several strings",
    );
    await assert.rejects(
      Deno.resolveDns("unknown.example", "TXT", options),
      Deno.errors.NotFound,
      "an unknown name is NXDOMAIN",
    );
    await assert.rejects(
      Deno.resolveDns("no-txt.example", "TXT", options),
      Deno.errors.NotFound,
      "a name without TXT records has none",
    );
    // The map is live: a record published now is served at once (TTL 0).
    dns.txt.set("later.example", ["published"]);
    assert.deepEqual(
      await Deno.resolveDns("later.example", "TXT", options),
      [["published"]],
    );
    // A name left unanswered times out, which is no NotFound ("no record").
    dns.unanswered.add("later.example");
    const silent = await Deno.resolveDns("later.example", "TXT", {
      ...options,
      signal: AbortSignal.timeout(300),
    }).then(() => null, (err: Error) => err);
    assert.ok(
      silent && !(silent instanceof Deno.errors.NotFound),
      String(silent),
    );
    // An answer larger than any UDP payload the resolver offers is truncated,
    // and the resolver asks again over TCP.
    dns.txt.set(
      "big.example",
      Array.from({ length: 40 }, (_, i) => `${i}:${"y".repeat(200)}`),
    );
    assert.equal(
      (await Deno.resolveDns("big.example", "TXT", options)).length,
      40,
    );
    assert.deepEqual(
      dns.queries.filter((q) => q.name === "big.example").map((q) =>
        q.transport
      ),
      ["udp", "tcp"],
    );
  } finally {
    await dns.close();
  }
});

Deno.test("an owner proves a domain with a TXT record: no record and a wrong token are refused (422), the right one verifies it, audited", async () => {
  const sql = adminSql();
  const dns = await startDnsServer();
  try {
    const owner = await createUser(sql, "domain-owner");
    const org = await createOrg(owner.token, "Domains");
    const domain = newDomain("proof");

    // Claiming normalizes the name and answers the token; claiming again
    // answers the same one.
    const claimed = await claim(
      owner.token,
      org.id,
      ` ${domain.toUpperCase()} `,
    );
    assert.equal(claimed.domain, domain);
    assert.match(claimed.verification_token, /^[0-9a-f]{32}$/);
    assert.equal(claimed.verified_at, null);
    assert.equal(
      (await claim(owner.token, org.id, domain)).verification_token,
      claimed.verification_token,
    );
    const expected = {
      name: recordName(domain),
      type: "TXT",
      value: recordValue(claimed.verification_token),
    };

    await withDnsVerification(sql, dns, async () => {
      // No record at all (NXDOMAIN): 422, naming the record to publish.
      const missing = await verify(owner.token, org.id, domain);
      assert.equal(missing.status, 422, JSON.stringify(missing.body));
      assert.equal(missing.body.verified, false);
      assert.deepEqual(missing.body.record, expected);
      assert.equal(missing.body.error, `${expected.name} has no TXT record`);

      // Records, but not the token (another value, another token): 422.
      dns.txt.set(expected.name, [
        "v=spf1 -all",
        recordValue("0".repeat(32)),
      ]);
      const wrong = await verify(owner.token, org.id, domain);
      assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
      assert.equal(wrong.body.verified, false);
      assert.match(String(wrong.body.error), /holds no TXT record/);
      assert.ok(String(wrong.body.error).includes(expected.value));
      const [failed] = await sql`
        select verified_at, last_checked_at, last_check_error from public.sso_domains
        where org_id = ${org.id} and domain = ${domain}`;
      assert.equal(failed.verified_at, null);
      assert.notEqual(failed.last_checked_at, null);
      assert.equal(failed.last_check_error, wrong.body.error);

      // The right record beside others: verified.
      dns.txt.set(expected.name, ["v=spf1 -all", expected.value]);
      const ok = await verify(owner.token, org.id, domain.toUpperCase());
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.verified, true);
      assert.equal(ok.body.domain, domain);
      assert.equal(ok.body.error, null);
      assert.ok(ok.body.verified_at);

      // The function asked this server, for that name, each time.
      assert.equal(
        dns.queries.filter((q) => q.name === expected.name && q.type === "TXT")
          .length,
        3,
      );

      // A lookup that fails (the server never answers, so it times out) is a
      // 502, not taken for a missing record: the domain stays verified.
      dns.unanswered.add(expected.name);
      const outage = await verify(owner.token, org.id, domain);
      assert.equal(outage.status, 502, JSON.stringify(outage.body));
      assert.equal(
        (outage.body.error as { code: string }).code,
        "dns_lookup_failed",
      );
      dns.unanswered.delete(expected.name);

      // A domain never claimed is a 404, before any lookup.
      const never = newDomain("never");
      const unclaimed = await verify(owner.token, org.id, never);
      assert.equal(unclaimed.status, 404);
      assert.ok(!dns.queries.some((q) => q.name === recordName(never)));
    });

    // The owner reads the verified row through supabase-js (RLS, sso:manage).
    const rows = await client(owner.token).from("sso_domains")
      .select("domain, verified_at, last_check_error").eq("org_id", org.id);
    assert.equal(rows.error, null);
    assert.equal(rows.data!.length, 1);
    assert.equal(rows.data![0].domain, domain);
    assert.notEqual(rows.data![0].verified_at, null);
    assert.equal(rows.data![0].last_check_error, null);

    // Audited: the claim (by the owner) and the change to verified.
    const audit = await sql`
      select action, actor_user_id, risk, after ->> 'verified_at' as verified_at
      from public.audit_log
      where org_id = ${org.id} and resource_type = 'sso_domains' and resource_id = ${domain}
      order by seq`;
    const inserted = audit.find((a) => a.action === "sso_domains.insert");
    assert.ok(inserted, JSON.stringify(audit));
    assert.equal(inserted.actor_user_id, owner.id);
    assert.equal(inserted.risk, "high");
    assert.ok(
      audit.some((a) =>
        a.action === "sso_domains.update" && a.verified_at &&
        a.actor_user_id === owner.id
      ),
      "the verification is audited as the owner who asked for it",
    );
  } finally {
    await dns.close();
    await sql.end();
  }
});

Deno.test("one organization per verified domain; only sso:manage claims or reads domains (RLS)", async () => {
  const sql = adminSql();
  const dns = await startDnsServer();
  try {
    const ownerA = await createUser(sql, "domain-a");
    const ownerB = await createUser(sql, "domain-b");
    const ownerC = await createUser(sql, "domain-c");
    const orgA = await createOrg(ownerA.token, "DomainsA");
    const orgB = await createOrg(ownerB.token, "DomainsB");
    const orgC = await createOrg(ownerC.token, "DomainsC");
    const domain = newDomain("contested");

    // Before anyone verifies it, two organizations may claim the domain.
    const a = await claim(ownerA.token, orgA.id, domain);
    const b = await claim(ownerB.token, orgB.id, domain);
    assert.notEqual(a.verification_token, b.verification_token);

    await withDnsVerification(sql, dns, async () => {
      dns.txt.set(recordName(domain), [recordValue(a.verification_token)]);
      // B's token is not published: B is refused...
      assert.equal((await verify(ownerB.token, orgB.id, domain)).status, 422);
      // ...and A proves it.
      const ok = await verify(ownerA.token, orgA.id, domain);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));

      // Even with B's token published too, B cannot verify a domain A holds:
      // the unique index answers 23505, a 409.
      dns.txt.set(recordName(domain), [
        recordValue(a.verification_token),
        recordValue(b.verification_token),
      ]);
      const taken = await verify(ownerB.token, orgB.id, domain);
      assert.equal(taken.status, 409, JSON.stringify(taken.body));
      assert.equal(
        (taken.body.error as { code: string }).code,
        "conflict",
      );
      const [bRow] = await sql`
        select verified_at from public.sso_domains where org_id = ${orgB.id} and domain = ${domain}`;
      assert.equal(bRow.verified_at, null);
    });

    // Nor can B (again) or C (first) claim it now.
    for (const [owner, org] of [[ownerB, orgB], [ownerC, orgC]] as const) {
      const res = await client(owner.token).rpc("add_sso_domain", {
        p_org_id: org.id,
        p_domain: domain,
      });
      assert.equal(res.status, 409, JSON.stringify(res.error));
      assert.equal(res.error?.code, "23505");
    }

    // A member without sso:manage can neither claim a domain nor see any.
    const member = await createUser(sql, "domain-member");
    await sql`insert into public.organization_members (org_id, user_id, role)
              values (${orgA.id}, ${member.id}, 'member')`;
    const denied = await client(member.token).rpc("add_sso_domain", {
      p_org_id: orgA.id,
      p_domain: newDomain("member"),
    });
    assert.equal(denied.status, 403, JSON.stringify(denied.error));
    assert.equal(denied.error?.code, "42501");
    const hidden = await client(member.token).from("sso_domains").select("*")
      .eq("org_id", orgA.id);
    assert.equal(hidden.error, null);
    assert.deepEqual(hidden.data, []);
    // To the verify route the domain is not there at all.
    assert.equal((await verify(member.token, orgA.id, domain)).status, 404);
    const deleted = await client(member.token).rpc("delete_sso_domain", {
      p_org_id: orgA.id,
      p_domain: domain,
    });
    assert.equal(deleted.status, 403);

    // Another organization's owner reads only their own organization's rows.
    const foreign = await client(ownerB.token).from("sso_domains").select("*")
      .eq("org_id", orgA.id);
    assert.equal(foreign.error, null);
    assert.deepEqual(foreign.data, []);
    const own = await client(ownerB.token).from("sso_domains").select(
      "org_id, domain, verified_at",
    );
    assert.deepEqual(own.data, [{
      org_id: orgB.id,
      domain,
      verified_at: null,
    }]);
    assert.equal((await verify(ownerB.token, orgA.id, domain)).status, 404);

    // Once A gives the domain up, B (whose token is still published) can
    // prove it: the one-organization rule holds only for verified rows.
    const released = await client(ownerA.token).rpc("delete_sso_domain", {
      p_org_id: orgA.id,
      p_domain: domain,
    });
    assert.equal(released.error, null, JSON.stringify(released.error));
    const again = await client(ownerA.token).rpc("delete_sso_domain", {
      p_org_id: orgA.id,
      p_domain: domain,
    });
    assert.equal(again.status, 404, "only a claimed domain can be deleted");
    await withDnsVerification(sql, dns, async () => {
      const ok = await verify(ownerB.token, orgB.id, domain);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
    });
  } finally {
    await dns.close();
    await sql.end();
  }
});

Deno.test("with verification required, SSO signs in only addresses of a verified domain, and /authorize?domain= finds its connection", async () => {
  const sql = adminSql();
  const dns = await startDnsServer();
  const domain = newDomain("signin");
  const person = `person@${domain}`;
  const op = await startOpenIdProvider(`${functionsUrl()}/oidc/callback`);
  try {
    const owner = await createUser(sql, "signin-owner");
    const org = await createOrg(owner.token, "SignIn");
    const created = await client(owner.token).rpc("create_sso_connection", {
      p_org_id: org.id,
      p_protocol: "oidc",
      p_name: "Local OP",
      p_oidc_issuer: op.issuer,
      p_oidc_client_id: op.clientId,
      p_allowed_email_domains: [domain],
      p_jit_provisioning: true,
      p_allowed_redirect_urls: [APP],
    });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const connectionId = created.data!.id;
    const secret = await fetch(
      `${functionsUrl()}/connections/${connectionId}/secret`,
      {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${owner.token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          org_id: org.id,
          client_secret: op.clientSecret,
        }),
      },
    );
    assert.equal(secret.status, 200);
    await secret.body?.cancel();
    const claimed = await claim(owner.token, org.id, domain);
    // Another organization lists the same domain on a connection of its own
    // (another client id, to tell the two apart in the redirect) but never
    // proves it: /authorize?domain= must not lead there.
    const ownerB = await createUser(sql, "signin-other");
    const orgB = await createOrg(ownerB.token, "SignInOther");
    const other = await client(ownerB.token).rpc("create_sso_connection", {
      p_org_id: orgB.id,
      p_protocol: "oidc",
      p_name: "Same domain, unproved",
      p_oidc_issuer: op.issuer,
      p_oidc_client_id: "not-the-owner-of-the-domain",
      p_allowed_email_domains: [domain],
      p_allowed_redirect_urls: [APP],
    });
    assert.equal(other.error, null, JSON.stringify(other.error));
    await claim(ownerB.token, orgB.id, domain);

    const authorizeUrl = async (by: Record<string, string>) =>
      `${functionsUrl()}/authorize?` + new URLSearchParams({
        ...by,
        redirect_to: APP,
        code_challenge: (await pkce()).challenge,
        code_challenge_method: "S256",
      });
    const authorizeStatus = async (by: Record<string, string>) => {
      const res = await fetch(await authorizeUrl(by), { redirect: "manual" });
      await res.body?.cancel();
      return res;
    };

    await withDnsVerification(sql, dns, async () => {
      // Claimed but not proved: the connection vouches for the address, yet
      // the callback refuses it (403) and the refusal is audited.
      const refused = await op.signIn(
        await authorizeUrl({ connection_id: connectionId }),
        person,
      );
      assert.equal(refused.status, 403, await refused.clone().text());
      await refused.body?.cancel();
      const [failure] = await sql`
        select after ->> 'reason' as reason, after ->> 'email' as email, status
        from public.audit_log
        where org_id = ${org.id} and action = 'sso.sign_in_failed'`;
      assert.match(failure.reason, /not verified by the organization/);
      assert.equal(failure.email, person);
      assert.equal(failure.status, "failure");
      const [nobody] = await sql`
        select count(*)::int as n from auth.users where email = ${person}`;
      assert.equal(nobody.n, 0, "nobody was provisioned");
      // Nor does an unproved domain lead to either connection.
      assert.equal((await authorizeStatus({ domain })).status, 404);

      // Proved by the first organization: the domain leads to its
      // connection (only), at the provider...
      dns.txt.set(recordName(domain), [
        recordValue(claimed.verification_token),
      ]);
      assert.equal((await verify(owner.token, org.id, domain)).status, 200);
      const found = await authorizeStatus({ domain: domain.toUpperCase() });
      assert.equal(found.status, 302);
      const location = new URL(found.headers.get("location")!);
      assert.equal(location.origin, op.issuer);
      assert.equal(location.searchParams.get("client_id"), op.clientId);

      // ...and the same address now signs in (provisioned just in time).
      const accepted = await op.signIn(await authorizeUrl({ domain }), person);
      assert.equal(accepted.status, 302, await accepted.clone().text());
      await accepted.body?.cancel();
      const back = new URL(accepted.headers.get("location")!);
      assert.equal(`${back.origin}${back.pathname}`, APP);
      assert.ok(back.searchParams.get("code"));
      const [signedIn] = await sql`
        select count(*)::int as n from public.audit_log
        where org_id = ${org.id} and action = 'sso.signed_in' and after ->> 'email' = ${person}`;
      assert.equal(signedIn.n, 1);

      // A domain no connection lists is a 404.
      assert.equal(
        (await authorizeStatus({ domain: newDomain("unknown") })).status,
        404,
      );
    });
  } finally {
    await op.close();
    await dns.close();
    await sql.end();
  }
});
