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
// PINNING (checked on Deno 2.9.6, on loopback): the caller connects to an
// address that passed, never to the name again.
// - Plain http: pinnedRequestTarget puts the checked address in the URL and
//   returns the Host header to send; Deno's fetch keeps a caller's Host header
//   only through `Deno.createHttpClient({ allowHost: true })`.
// - https: fetch cannot be pinned (CreateHttpClientOptions has no resolver,
//   connect hook or TLS server name apart from the URL's host; its `proxy`
//   option sends https requests in cleartext; an IP in the URL makes the
//   certificate check fail). webhook-dispatch/send.ts therefore sends https
//   with `node:https` `request({ host, servername, lookup })`, whose lookup
//   answers with the checked address and whose certificate check is against
//   the host name.
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
