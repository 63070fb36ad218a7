// SSO figure (issue 28): "callback-to-token time (IdP excluded), p50/p99",
// next to a baseline measured in the same run, with Postgres durable:
//   1. a real OpenID Provider (oidc-provider, as tests/support/openid_provider.ts
//      configures it) in a Deno child process, bench/sso_provider.ts, on
//      loopback, with a control endpoint that does the browser's sign-in at
//      the provider programmatically;
//   2. an organization, one existing member and an OIDC connection made as
//      tests/integration/sso_oidc_test.ts makes them (create_organization and
//      create_sso_connection through /rest/v1, the client secret through
//      PUT /functions/v1/sso/connections/<id>/secret);
//   3. one client, sequential: GET /functions/v1/health through the gateway
//      for `seconds` (default 10) after 1 s of warm-up (baseline); then
//      repeated sign-ins of the member for `seconds` after 3 of warm-up, each
//      /sso/authorize -> provider (untimed, done by the provider process) ->
//      (a) GET /sso/oidc/callback (timed: it includes Meridian's own requests
//      to the provider's token endpoint and, when not cached, its JWKS; the
//      provider's handling time of those is recorded by the provider process
//      for each sign-in and subtracted in "callback - IdP") ->
//      (b) POST /sso/token, grant_type=authorization_code (timed);
//      p50, p99 and max of (a), (a) less the IdP's time, (b), and of the sums
//      (a)+(b) and (a less IdP)+(b), and their ratios to the baseline;
//   4. the provider's token endpoint as a client sees it, from this process
//      (codes the provider issues for the same client, exchanged here):
//      p50/p99/max beside the rest.
// `npm run bench -- sso [seconds]`.
import { spawn } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import postgres from "postgres";
import { DENO, ROOT } from "../dev/config.mjs";
import { mintUserToken } from "../dev/jwt.mjs";
import { ratio } from "./load.mjs";

const APP = "http://localhost:3000/auth/callback";
const WARMUP_MS = 1000;
const SIGNIN_WARMUP = 3;
// Bounds on each phase besides its time.
const MAX_REQUESTS = 200_000;
const MAX_SIGNINS = 5_000;
const MAX_TOKEN_CALLS = 200;

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function request(url, { method = "GET", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(url), { method, agent, headers }, (
      res,
    ) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const postJson = (url, body, headers = {}) =>
  request(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

function stats(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p) =>
    sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return {
    n: sorted.length,
    p50: pct(0.5),
    p99: pct(0.99),
    max: sorted[sorted.length - 1],
  };
}

function show(label, r, extra = "") {
  console.log(
    `${label.padEnd(52)} p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${
      r.p99.toFixed(2).padStart(6)
    } ms  max ${r.max.toFixed(2).padStart(7)} ms  (${r.n}${extra})`,
  );
}

function base64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

async function pkce() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(verifier),
  );
  return { verifier, challenge: base64url(new Uint8Array(digest)) };
}

// ---------------------------------------------------------------------------
// The provider process.

function startProvider(redirectUri) {
  const child = spawn(DENO, [
    "run",
    "--no-prompt",
    "--config",
    join(ROOT, "deno.json"),
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys",
    join(ROOT, "bench", "sso_provider.ts"),
    redirectUri,
  ], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (c) => (err += c));
  const ready = new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`sso_provider.ts did not start: ${err}`)),
      60_000,
    );
    child.stdout.on("data", (c) => {
      out += c;
      const at = out.indexOf("\n");
      if (at >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, at)));
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sso_provider.ts exited with ${code}: ${err}`));
    });
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.on("exit", () => resolve());
      child.stdin.end();
      setTimeout(() => child.exitCode === null && child.kill(), 5000).unref();
    });
  return { ready, stop };
}

// ---------------------------------------------------------------------------
// Fixtures, as tests/integration/sso_oidc_test.ts makes them.

async function rpc(state, token, fn, body) {
  const res = await postJson(`${state.apiUrl}/rest/v1/rpc/${fn}`, body, {
    apikey: state.keys.anonKey,
    Authorization: `Bearer ${token}`,
  });
  if (res.status >= 300) {
    throw new Error(`${fn}: HTTP ${res.status} ${res.text}`);
  }
  return JSON.parse(res.text);
}

async function authUser(sql, email) {
  const id = crypto.randomUUID();
  await sql`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
    values (${id}, 'authenticated', 'authenticated', ${email}, now(),
            '{"provider": "email", "providers": ["email"]}', '{}')`;
  return id;
}

async function connection(sql, state, op) {
  const suffix = crypto.randomUUID().slice(0, 8);
  const ownerEmail = `sso-bench-owner-${suffix}@bench.example`;
  const ownerId = await authUser(sql, ownerEmail);
  const token = await mintUserToken(
    { sub: ownerId, email: ownerEmail },
    state.keys.signer,
  );
  const org = await rpc(state, token, "create_organization", {
    p_name: "SSO bench",
    p_slug: `sso-bench-${suffix}`,
  });
  const member = `member-${suffix}@oidc.example`;
  const memberId = await authUser(sql, member);
  await sql`insert into public.organization_members (org_id, user_id, role)
            values (${org.id}, ${memberId}, 'member')`;
  const created = await rpc(state, token, "create_sso_connection", {
    p_org_id: org.id,
    p_protocol: "oidc",
    p_name: "Bench OP",
    p_oidc_issuer: op.issuer,
    p_oidc_client_id: op.client_id,
    p_allowed_email_domains: ["oidc.example"],
    p_jit_provisioning: false,
    p_allowed_redirect_urls: [APP],
  });
  const secret = await request(
    `${state.apiUrl}/functions/v1/sso/connections/${created.id}/secret`,
    {
      method: "PUT",
      headers: {
        Authorization: `Bearer ${token}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ org_id: org.id, client_secret: op.client_secret }),
    },
  );
  if (secret.status !== 200) {
    throw new Error(`PUT secret: HTTP ${secret.status} ${secret.text}`);
  }
  return { orgId: org.id, connectionId: created.id, member };
}

// ---------------------------------------------------------------------------

export async function run(state, args) {
  const seconds = Math.max(1, Math.min(600, Number(args[0] ?? 10) || 10));
  const ms = seconds * 1000;
  const fn = `${state.apiUrl}/functions/v1`;
  const callback = `${fn}/sso/oidc/callback`;
  const sql = postgres(state.dbUrl, { max: 1, onnotice: () => {} });
  const provider = startProvider(callback);
  try {
    const op = await provider.ready;
    // health is rate limited per client IP; a limit that never denies, as
    // gateway.mjs measures it.
    await sql`
      insert into public.rate_limit_policies (scope, endpoint, request_limit, window_ms)
      values ('ip', 'health', 100000000, 1000)`;
    const { connectionId, member } = await connection(sql, state, op);
    console.log(
      `sso benchmark: one member of one organization signing in again and again through an OIDC connection to oidc-provider (a Deno process on loopback); one client, sequential; health ${seconds} s after 1 s warm-up, sign-ins ${seconds} s after ${SIGNIN_WARMUP} warm-up sign-ins\n`,
    );

    // Baseline: health through the same gateway.
    const healthLatencies = [];
    for (const [duration, record] of [[WARMUP_MS, false], [ms, true]]) {
      const deadline = performance.now() + duration;
      for (let n = 0; performance.now() < deadline && n < MAX_REQUESTS; n++) {
        const started = performance.now();
        const r = await request(`${fn}/health`);
        if (r.status !== 200) throw new Error(`health: HTTP ${r.status}`);
        if (record) healthLatencies.push(performance.now() - started);
      }
    }

    // Sign-ins.
    const samples = [];
    let jwksFetches = 0;
    const signIn = async () => {
      const { verifier, challenge } = await pkce();
      const authorize = `${fn}/sso/authorize?` + new URLSearchParams({
        connection_id: connectionId,
        redirect_to: APP,
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      const signed = await postJson(`${op.control}/signin`, {
        authorize_url: authorize,
        email: member,
      });
      if (signed.status !== 200) {
        throw new Error(`provider sign-in: ${signed.status} ${signed.text}`);
      }
      const { location } = JSON.parse(signed.text);
      await postJson(`${op.control}/timings`, {}); // forget the sign-in's own
      // (a) Meridian's callback.
      let started = performance.now();
      const back = await request(location);
      const callbackMs = performance.now() - started;
      if (back.status !== 302) {
        throw new Error(`callback: HTTP ${back.status} ${back.text}`);
      }
      const idp = JSON.parse(
        (await postJson(`${op.control}/timings`, {})).text,
      );
      const returned = new URL(back.headers.location);
      const code = returned.searchParams.get("code");
      if (`${returned.origin}${returned.pathname}` !== APP || !code) {
        throw new Error(`callback went to ${back.headers.location}`);
      }
      // (b) The app's exchange.
      started = performance.now();
      const tokens = await postJson(`${fn}/sso/token`, {
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
      });
      const tokenMs = performance.now() - started;
      if (tokens.status !== 200 || !JSON.parse(tokens.text).access_token) {
        throw new Error(`token: HTTP ${tokens.status} ${tokens.text}`);
      }
      if (idp.token.length !== 1) {
        throw new Error(`${idp.token.length} token requests in one callback`);
      }
      const idpMs = [...idp.token, ...idp.jwks].reduce((a, b) => a + b, 0);
      return { callbackMs, idpMs, jwks: idp.jwks.length, tokenMs };
    };
    for (let i = 0; i < SIGNIN_WARMUP; i++) await signIn();
    {
      const deadline = performance.now() + ms;
      while (performance.now() < deadline && samples.length < MAX_SIGNINS) {
        const s = await signIn();
        jwksFetches += s.jwks;
        samples.push(s);
      }
    }

    // The provider's token endpoint from this process: codes issued for the
    // same client (an authorization request made here, signed in by the
    // provider process), exchanged here as Meridian exchanges them.
    const idpDirect = [];
    {
      const deadline = performance.now() + Math.min(ms, 5000);
      for (
        let n = 0;
        performance.now() < deadline && n < MAX_TOKEN_CALLS + SIGNIN_WARMUP;
        n++
      ) {
        const { verifier, challenge } = await pkce();
        const auth = `${op.issuer}/auth?` + new URLSearchParams({
          client_id: op.client_id,
          redirect_uri: callback,
          response_type: "code",
          scope: "openid email profile",
          state: base64url(crypto.getRandomValues(new Uint8Array(16))),
          nonce: base64url(crypto.getRandomValues(new Uint8Array(16))),
          code_challenge: challenge,
          code_challenge_method: "S256",
        });
        const signed = await postJson(`${op.control}/signin`, {
          authorize_url: auth,
          email: member,
        });
        if (signed.status !== 200) {
          throw new Error(`provider sign-in: ${signed.status} ${signed.text}`);
        }
        const code = new URL(JSON.parse(signed.text).location).searchParams
          .get("code");
        const started = performance.now();
        const r = await request(`${op.issuer}/token`, {
          method: "POST",
          headers: {
            "content-type": "application/x-www-form-urlencoded",
            authorization: `Basic ${
              Buffer.from(
                `${encodeURIComponent(op.client_id)}:${
                  encodeURIComponent(op.client_secret)
                }`,
              ).toString("base64")
            }`,
          },
          body: new URLSearchParams({
            grant_type: "authorization_code",
            code,
            redirect_uri: callback,
            code_verifier: verifier,
          }).toString(),
        });
        const took = performance.now() - started;
        if (r.status !== 200) {
          throw new Error(`provider token: HTTP ${r.status} ${r.text}`);
        }
        if (n >= SIGNIN_WARMUP) idpDirect.push(took);
      }
    }

    const health = stats(healthLatencies);
    const cb = stats(samples.map((s) => s.callbackMs));
    const idp = stats(samples.map((s) => s.idpMs));
    const cbLessIdp = stats(samples.map((s) => s.callbackMs - s.idpMs));
    const tok = stats(samples.map((s) => s.tokenMs));
    const sum = stats(samples.map((s) => s.callbackMs + s.tokenMs));
    const sumLessIdp = stats(
      samples.map((s) => s.callbackMs - s.idpMs + s.tokenMs),
    );
    const direct = stats(idpDirect);
    show("GET /functions/v1/health (baseline)", health, " requests");
    show("(a) GET /sso/oidc/callback (incl. IdP token+JWKS)", cb, " sign-ins");
    show(
      "    IdP's handling of those (provider-side)",
      idp,
      `; ${jwksFetches} JWKS fetches`,
    );
    show("    (a) less the IdP's handling", cbLessIdp, " sign-ins");
    show("(b) POST /sso/token authorization_code", tok, " sign-ins");
    show("(a)+(b) callback-to-token", sum, " sign-ins");
    show("(a)+(b) callback-to-token, IdP excluded", sumLessIdp, " sign-ins");
    show("IdP POST /token from this process (beside)", direct, " requests");
    console.log("");
    ratio("callback p50 / health p50", cb.p50 / health.p50);
    ratio("callback p99 / health p99", cb.p99 / health.p99);
    ratio("token p50 / health p50", tok.p50 / health.p50);
    ratio("token p99 / health p99", tok.p99 / health.p99);
    ratio("callback-to-token p50 / health p50", sum.p50 / health.p50);
    ratio("callback-to-token p99 / health p99", sum.p99 / health.p99);
    ratio(
      "callback-to-token, IdP excluded, p50 / health p50",
      sumLessIdp.p50 / health.p50,
    );
    ratio(
      "callback-to-token, IdP excluded, p99 / health p99",
      sumLessIdp.p99 / health.p99,
    );
  } finally {
    await provider.stop();
    await sql.end();
    agent.destroy();
  }
}
