// SSRF defence for outbound webhooks, modelled on Svix: a customer's URL is
// checked before every delivery, its host name resolved here, every resolved
// address filtered by range, and the request is then made to one of the
// addresses that passed, never to the name (which an attacker's DNS could
// answer differently a second time: DNS rebinding).
//
// Stages: parseDestination (scheme, credentials, port) → hostAddresses (IP
// literal, or the name resolved) → addressRefusal (per address, by ipaddr.js
// range). A refusal is a DestinationRefused with a stable `rule` and
// `field: "url"`, the shape of an ErrorDetail in errors.ts. Any other error
// (a DNS timeout, SERVFAIL) is thrown as it is: it is transient, not a refusal.
//
// PINNING, AND WHY HTTPS IS NOT PINNED (checked on Deno 2.9.6, on loopback):
// - Plain http: pinnedRequestTarget puts the checked address in the URL and
//   returns the Host header to send. Deno's fetch silently drops a caller's
//   `Host` header unless the request goes through
//   `Deno.createHttpClient({ allowHost: true })`.
// - https: fetch cannot be pinned. `Deno.CreateHttpClientOptions` has caCerts,
//   cert/key, proxy, poolMaxIdlePerHost, poolIdleTimeout, http1, http2,
//   allowHost, localAddress and http2MaxHeaderListSize: no DNS override or
//   resolver (what reqwest calls `resolve_to_addrs`/`dns_resolver`, curl
//   `--resolve`, undici `connect.lookup`), no connect hook, and no TLS server
//   name separate from the URL's host. So pinnedHttpClient(host, addresses) is
//   not implemented: nothing in fetch can carry it.
//   The near-misses:
//   * `proxy: { transport: "tcp", hostname, port }` does send the request to
//     an address we choose, but in cleartext even for an https: URL (a plain
//     server received `POST https://host/x HTTP/1.1` with headers and body).
//     Never give it an https URL: it would leak the payload and signature.
//   * Rewriting an https URL to the IP makes rustls verify the certificate
//     against the IP ("certificate not valid for name 127.0.0.1").
//   * `Deno.connectTls` takes one `hostname` for both the connection and the
//     certificate check; `Deno.startTls(await Deno.connect({ hostname: ip }),
//     { hostname: name })` does verify against the name over a connection to
//     the pinned address, but fetch cannot use a connection we opened.
//   Outside fetch, `node:https` `request({ host: name, lookup })` in Deno 2.9.6
//   connects to the address `lookup` returns and verifies the certificate
//   against `host` (a wrong-name certificate fails with "Hostname/IP does not
//   match certificate's altnames"); that is the route if https must be pinned.
//   Until then an https delivery checks the name here and lets fetch resolve it
//   again, so a rebinding between the two lookups is not prevented.
import ipaddr from "ipaddr.js";

/** The URL may not be delivered to; `rule` says why, for the error details. */
export class DestinationRefused extends Error {
  readonly field = "url";

  constructor(readonly rule: string, message: string) {
    super(message);
    this.name = "DestinationRefused";
  }
}

export type CheckOptions = {
  /** Local development only: allows http: and loopback, private, unique-local
   * and link-local addresses (which include 169.254.169.254, cloud metadata). */
  allowPrivate: boolean;
  /** Addresses for a host name; Deno.resolveDns (A and AAAA) by default. */
  resolve?: (host: string) => Promise<string[]>;
};

export type CheckedDestination = {
  url: URL;
  /** Every address the host has, all of which passed; connect to one of them. */
  addresses: string[];
};

type Address = ipaddr.IPv4 | ipaddr.IPv6;

const DNS_TIMEOUT_MS = 5_000;

// Ranges (ipaddr.js names) that allowPrivate lets through. Never unspecified,
// multicast or broadcast: those are not a server, whatever the environment.
const PRIVATE_RANGES: ReadonlySet<string> = new Set([
  "loopback",
  "private",
  "uniqueLocal",
  "linkLocal",
]);

/** Checks a webhook URL and the addresses its host has; throws
 * DestinationRefused when it may not be delivered to. */
export async function checkDestination(
  rawUrl: string,
  opts: CheckOptions,
): Promise<CheckedDestination> {
  const url = parseDestination(rawUrl, opts.allowPrivate);
  const addresses: string[] = [];
  for (const raw of await hostAddresses(url, opts.resolve ?? defaultResolve)) {
    if (!ipaddr.isValid(raw)) {
      throw new DestinationRefused(
        "unresolvable",
        `${url.hostname} resolved to "${raw}", which is not an IP address`,
      );
    }
    const address = ipaddr.parse(raw);
    // Every address must pass, not just one: the caller may connect to any.
    const rule = addressRefusal(address, opts.allowPrivate);
    if (rule) {
      throw new DestinationRefused(
        rule,
        `${url.hostname} has the address ${address}, which is not allowed (${rule})`,
      );
    }
    const text = address.toString();
    if (!addresses.includes(text)) addresses.push(text);
  }
  return { url, addresses };
}

/** For a plain http delivery to a checked address: the URL to fetch (its host
 * replaced by the address) and the Host header to send with it, which Deno's
 * fetch sends only through `Deno.createHttpClient({ allowHost: true })`. Not for
 * https: see the header comment. */
export function pinnedRequestTarget(
  url: URL,
  address: string,
): { connectUrl: URL; hostHeader: string } {
  if (url.protocol !== "http:") {
    throw new TypeError(
      `pinnedRequestTarget is for http: URLs; ${url.protocol} would verify TLS against the address`,
    );
  }
  const parsed = ipaddr.parse(address);
  const connectUrl = new URL(url.href);
  connectUrl.hostname = parsed.kind() === "ipv6"
    ? `[${parsed.toString()}]`
    : parsed.toString();
  return { connectUrl, hostHeader: url.host };
}

// ---------------------------------------------------------------- URL

function parseDestination(rawUrl: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new DestinationRefused("invalid_url", "The URL cannot be parsed");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new DestinationRefused(
      "https_only",
      `Webhook URLs must use https, not ${url.protocol}`,
    );
  }
  if (url.protocol === "http:" && !allowPrivate) {
    throw new DestinationRefused(
      "https_only",
      "Webhook URLs must use https",
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new DestinationRefused(
      "credentials_in_url",
      "Webhook URLs may not carry a user name or password; use a header",
    );
  }
  // The URL parser already refuses ports above 65535.
  if (url.port === "0") {
    throw new DestinationRefused("port", "Port 0 is not a destination");
  }
  return url;
}

// ---------------------------------------------------------------- ADDRESSES

// The URL parser has already turned every IPv4 spelling (2130706433, 0x7f.1,
// 0177.0.0.1, full-width digits) into dotted decimal and put IPv6 in brackets,
// so anything else in hostname is a name.
async function hostAddresses(
  url: URL,
  resolve: (host: string) => Promise<string[]>,
): Promise<string[]> {
  const host = url.hostname;
  if (host.startsWith("[") && host.endsWith("]")) return [host.slice(1, -1)];
  if (ipaddr.IPv4.isValidFourPartDecimal(host)) return [host];
  const addresses = await resolve(host);
  if (addresses.length === 0) {
    throw new DestinationRefused(
      "unresolvable",
      `${host} has no A or AAAA records`,
    );
  }
  return addresses;
}

// A name without AAAA (or A) records is normal; any other failure is thrown,
// not skipped: an https delivery lets fetch resolve the name again, so an
// unseen family could be the one it connects to.
async function defaultResolve(host: string): Promise<string[]> {
  const signal = AbortSignal.timeout(DNS_TIMEOUT_MS);
  const families = await Promise.allSettled([
    Deno.resolveDns(host, "A", { signal }),
    Deno.resolveDns(host, "AAAA", { signal }),
  ]);
  const addresses: string[] = [];
  for (const family of families) {
    if (family.status === "fulfilled") addresses.push(...family.value);
    else if (!(family.reason instanceof Deno.errors.NotFound)) {
      throw family.reason;
    }
  }
  return addresses;
}

/** The rule an address breaks ("address_range:<ipaddr.js range>"), if any. */
function addressRefusal(
  address: Address,
  allowPrivate: boolean,
): string | undefined {
  if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) {
    // ::ffff:a.b.c.d reaches a.b.c.d on a dual-stack socket: judge the IPv4
    // address it carries, and refuse the mapped spelling even when that
    // passes, as no webhook server needs it.
    return addressRefusal(address.toIPv4Address(), allowPrivate) ??
      "address_range:ipv4Mapped";
  }
  const range = address.range();
  if (range === "unicast") {
    // ipaddr.js calls the deprecated IPv4-compatible ::a.b.c.d (RFC 4291)
    // unicast; some stacks still route it to a.b.c.d.
    if (address instanceof ipaddr.IPv6 && isIpv4Compatible(address)) {
      return "address_range:ipv4Compatible";
    }
    return undefined;
  }
  if (allowPrivate && PRIVATE_RANGES.has(range)) return undefined;
  return `address_range:${range}`;
}

// ::/96, less :: and ::1, which range() names unspecified and loopback.
function isIpv4Compatible(address: ipaddr.IPv6): boolean {
  return address.parts.slice(0, 6).every((part) => part === 0);
}
