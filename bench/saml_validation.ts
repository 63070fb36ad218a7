// The measurements of `npm run bench -- saml`, in one Deno process: the CPU
// that `validateResponse` (supabase/functions/sso/saml.ts: node-saml 5.1 and
// Meridian's own checks) spends on one POSTed SAMLResponse, next to the
// irreducible crypto of the same message.
//   - Responses come from the test IdP, tests/support/saml_idp.ts (keys from
//     openssl, RSA-2048; the assertion signed by xml-crypto, RSA-SHA256,
//     exclusive c14n, SHA-256 digest; the Response itself unsigned), all made
//     before any clock starts, each distinct (its own IDs, SessionIndex and
//     NameID). Needs SUPABASE_URL in the environment: the SP's ACS and entity
//     id are built from it (no request is made to it).
//   - Baseline, per response: one RSA-SHA256 verify (node:crypto, as
//     xml-crypto verifies) of that response's canonical SignedInfo against its
//     SignatureValue, with the certificate's public key parsed beforehand, and
//     one SHA-256 (base64) of its canonical assertion, compared with its
//     DigestValue. The canonical forms are computed here, untimed, with
//     xml-crypto's exclusive c14n, and checked: the signature must verify and
//     the digest must match, so these are the very bytes the validation signs
//     off on.
//   - Each side warmed up on the first `warmup` responses, then timed on the
//     next `count`, one at a time: wall time (performance.now) and process CPU
//     (process.cpuUsage, user + system, every thread of the process: V8's GC
//     and compiler helpers count) of each call, and of the whole loop.
//   - A case whose mean CPU is over the target gets a profile pass after its
//     timed loop: V8's sampling profiler (node:inspector, every 100 us, main
//     thread) over `profiled` more validations, summed by package and by
//     function (self), and the library functions that hold the most of it
//     (inclusive; a stack starts afresh after an await, so an async function
//     such as validateResponse holds only what ran while it was on the
//     stack). The profiler slows what it samples: read shares, not ms.
// Run by bench/saml.mjs:
//   deno run ... bench/saml_validation.ts <count> <warmup> <profiled> <target_ms> <groups>...
// One case per <groups> argument: an assertion with an email attribute and
// that many values of a groups attribute. Prints one JSON line:
//   {cases: [{groups, xmlBytes, base64Bytes, attributeValues, ...,
//             validation: {wallMs: [...], cpuMs: [...], loopWallMs, loopCpuMs},
//             baseline: {...}, profile: null | {responses, sampledMs,
//             byPackage: [[name, ms]...], selfTop: [...], inclusiveTop: [...]}}]}
import { Buffer } from "node:buffer";
import {
  createHash,
  createPublicKey,
  createVerify,
  type KeyObject,
} from "node:crypto";
import { Session } from "node:inspector";
import process from "node:process";
import { DOMParser } from "@xmldom/xmldom";
import { ExclusiveCanonicalization } from "xml-crypto";
import {
  type SamlConnection,
  validateResponse,
} from "../supabase/functions/sso/saml.ts";
import { startSamlIdp } from "../tests/support/saml_idp.ts";

const [countArg, warmupArg, profiledArg, targetArg, ...groupArgs] = Deno.args;
const count = Number(countArg);
const warmup = Number(warmupArg);
const profiled = Number(profiledArg);
const targetMs = Number(targetArg);
const groupCounts = groupArgs.map(Number);
if (
  !(count > 0) || !(warmup >= 1) || !(profiled >= 0) || !(targetMs > 0) ||
  groupCounts.length === 0 || groupCounts.some((g) => !(g >= 0))
) {
  throw new Error(
    "usage: saml_validation.ts <count> <warmup> <profiled> <target_ms> <groups>...",
  );
}
const base = Deno.env.get("SUPABASE_URL");
if (!base) throw new Error("SUPABASE_URL is not set");

const DSIG = "http://www.w3.org/2000/09/xmldsig#";
const SAML = "urn:oasis:names:tc:SAML:2.0:assertion";

/** A group name as directories send them: an LDAP DN, 60-70 characters. */
const groupName = (i: number) =>
  `CN=meridian-team-${
    String(i).padStart(3, "0")
  },OU=Groups,OU=Engineering,DC=corp,DC=example,DC=com`;

type Timed = {
  wallMs: number[];
  cpuMs: number[];
  loopWallMs: number;
  loopCpuMs: number;
};

const cpuMs = (u: { user: number; system: number }) =>
  (u.user + u.system) / 1000;

async function timeEach<T>(
  items: T[],
  work: (item: T) => unknown,
): Promise<Timed> {
  const wallMs: number[] = [];
  const cpu: number[] = [];
  const loopCpu = process.cpuUsage();
  const loopStarted = performance.now();
  for (const item of items) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await work(item);
    wallMs.push(performance.now() - t0);
    cpu.push(cpuMs(process.cpuUsage(c0)));
  }
  return {
    wallMs,
    cpuMs: cpu,
    loopWallMs: performance.now() - loopStarted,
    loopCpuMs: cpuMs(process.cpuUsage(loopCpu)),
  };
}

/** What the baseline checks of one response: its canonical bytes, as signed. */
type Crypto = {
  signedInfo: string;
  signatureValue: string;
  assertion: string;
  digestValue: string;
};

function only(parent: Element | Document, ns: string, local: string) {
  const found = Array.from(parent.getElementsByTagNameNS(ns, local));
  if (found.length !== 1) {
    throw new Error(`${found.length} ${local} elements, expected 1`);
  }
  return found[0];
}

function canonicalCrypto(samlResponse: string, key: KeyObject): Crypto {
  const xml = Buffer.from(samlResponse, "base64").toString("utf8");
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  const assertion = only(doc as unknown as Document, SAML, "Assertion");
  const signature = only(assertion, DSIG, "Signature");
  const c14n = new ExclusiveCanonicalization();
  const crypto: Crypto = {
    signedInfo: c14n.process(only(signature, DSIG, "SignedInfo"), {}),
    signatureValue: (only(signature, DSIG, "SignatureValue").textContent ?? "")
      .replace(/\s+/g, ""),
    // The enveloped-signature transform, then exclusive c14n.
    assertion: "",
    digestValue: (only(signature, DSIG, "DigestValue").textContent ?? "")
      .trim(),
  };
  const unsigned = assertion.cloneNode(true) as Element;
  unsigned.removeChild(only(unsigned, DSIG, "Signature"));
  crypto.assertion = c14n.process(unsigned, {});
  if (!checkCrypto(crypto, key)) {
    throw new Error("the baseline's canonical bytes do not verify");
  }
  return crypto;
}

/** The baseline: one RSA-SHA256 verify and one SHA-256 digest, compared. */
function checkCrypto(c: Crypto, key: KeyObject): boolean {
  const verified = createVerify("RSA-SHA256").update(c.signedInfo).verify(
    key,
    c.signatureValue,
    "base64",
  );
  const digest = createHash("sha256").update(c.assertion, "utf8").digest(
    "base64",
  );
  return verified && digest === c.digestValue;
}

// ---------------------------------------------------------------------------
// The profile pass.

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
};

const NPM = /\/(?:registry\.npmjs\.org|node_modules)\/((?:@[^/]+\/)?[^/]+)\//;
const ROOT_URL = new URL("..", import.meta.url).href;

/** Whose code a frame is: an npm package, a Meridian file, or the runtime. */
function owner(f: CallFrame): string {
  const npm = f.url.match(NPM);
  if (npm) return npm[1];
  if (f.url.startsWith(ROOT_URL)) return f.url.slice(ROOT_URL.length);
  if (f.url.startsWith("ext:") || f.url.startsWith("node:")) {
    return "Deno runtime (JS)";
  }
  if (!f.url && f.functionName.startsWith("op_")) {
    return "Deno runtime (native ops: crypto, buffers)";
  }
  return f.functionName || "(unknown)";
}

function frameName(f: CallFrame): string {
  const name = f.functionName || "(anonymous)";
  // Line numbers of TypeScript files are those of the emitted JavaScript.
  return NPM.test(f.url)
    ? `${name} ${f.url.slice(f.url.lastIndexOf("/") + 1)}:${
      f.lineNumber + 1
    } [${owner(f)}]`
    : `${name} [${owner(f)}]`;
}

function post<T>(session: Session, method: string, params = {}): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(
      method,
      params,
      (err: Error | null, result: unknown) =>
        err ? reject(err) : resolve(result as T),
    )
  );
}

async function profileOf(responses: string[], work: (r: string) => unknown) {
  const session = new Session();
  session.connect();
  try {
    await post(session, "Profiler.enable");
    await post(session, "Profiler.setSamplingInterval", { interval: 100 });
    await post(session, "Profiler.start");
    for (const r of responses) await work(r);
    const { profile } = await post<{ profile: CpuProfile }>(
      session,
      "Profiler.stop",
    );
    await post(session, "Profiler.disable");
    return summarize(profile, responses.length);
  } finally {
    session.disconnect();
  }
}

function summarize(profile: CpuProfile, responses: number) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const byPackage = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, us: number) =>
    m.set(k, (m.get(k) ?? 0) + us);
  let sampledUs = 0;
  profile.samples.forEach((id, i) => {
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    const leaf = nodes.get(id)!;
    if (leaf.callFrame.functionName === "(idle)") return;
    sampledUs += us;
    add(byPackage, owner(leaf.callFrame), us);
    add(self, frameName(leaf.callFrame), us);
    // Inclusive: each library or Meridian function once per sample.
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const f = nodes.get(n)!.callFrame;
      const who = owner(f);
      if (
        !(NPM.test(f.url) || f.url.startsWith(ROOT_URL)) ||
        who.startsWith("bench/")
      ) continue;
      const name = frameName(f);
      if (!seen.has(name)) {
        seen.add(name);
        add(inclusive, name, us);
      }
    }
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map((
      [k, us],
    ) => [k, us / 1000 / responses] as const);
  return {
    responses,
    sampledMs: sampledUs / 1000 / responses,
    byPackage: top(byPackage, 8),
    selfTop: top(self, 10),
    inclusiveTop: top(inclusive, 12),
  };
}

// ---------------------------------------------------------------------------

const idp = await startSamlIdp();
try {
  const connection: SamlConnection = {
    org_id: crypto.randomUUID(),
    id: crypto.randomUUID(),
    saml_idp_entity_id: idp.entityId,
    saml_idp_sso_url: `${idp.url}/sso`,
    saml_idp_slo_url: null,
    saml_idp_certificates: [idp.certPem],
  };
  const acsUrl = `${base}/functions/v1/sso/saml/acs/${connection.id}`;
  const audience = `${base}/functions/v1/sso/saml/metadata/${connection.id}`;
  const key = createPublicKey(idp.certPem);
  const cases = [];
  for (const groups of groupCounts) {
    const groupValues = Array.from({ length: groups }, (_, i) => groupName(i));
    const make = (n: number) => {
      const email = `user-${groups}-${n}@example.com`;
      return idp.response({
        acsUrl,
        audience,
        nameId: email,
        email,
        groups: groupValues,
      });
    };
    // All responses before any clock starts; each answers within the 5
    // minutes (plus skew) the IdP makes it valid for.
    const responses = Array.from(
      { length: warmup + count + profiled },
      (_, n) => make(n),
    );
    if (new Set(responses).size !== responses.length) {
      throw new Error("two responses are the same");
    }
    const cryptos = responses.slice(0, warmup + count).map((r) =>
      canonicalCrypto(r, key)
    );

    // Each response validates, and says what it was made to say.
    const first = await validateResponse(connection, responses[0]);
    if (
      first.email !== "user-" + groups + "-0@example.com" ||
      first.groups.length !== groups
    ) {
      throw new Error(`unexpected identity: ${JSON.stringify(first)}`);
    }
    const validate = async (r: string) => {
      const identity = await validateResponse(connection, r);
      if (identity.groups.length !== groups) throw new Error("groups lost");
    };
    const check = (c: Crypto) => {
      if (!checkCrypto(c, key)) throw new Error("baseline did not verify");
    };

    await timeEach(cryptos.slice(0, warmup), check);
    const baseline = await timeEach(cryptos.slice(warmup), check);
    await timeEach(responses.slice(1, warmup), validate);
    const validation = await timeEach(
      responses.slice(warmup, warmup + count),
      validate,
    );
    const profile = profiled > 0 && validation.loopCpuMs / count > targetMs
      ? await profileOf(responses.slice(warmup + count), validate)
      : null;

    const xml = Buffer.from(responses[warmup], "base64").toString("utf8");
    cases.push({
      groups,
      xmlBytes: Buffer.byteLength(xml),
      base64Bytes: responses[warmup].length,
      signedInfoBytes: Buffer.byteLength(cryptos[warmup].signedInfo),
      assertionBytes: Buffer.byteLength(cryptos[warmup].assertion),
      attributeValues: groups + 1,
      validation,
      baseline,
      profile,
    });
  }
  console.log(JSON.stringify({ cases }));
} finally {
  await idp.close();
}
