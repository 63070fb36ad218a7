// SCIM figure (issue 28): "GET /Users page of 100 in an organization of
// 10,000 members: target p99 <= 50 ms", next to a baseline measured in the
// same run, with Postgres durable:
//   1. an organization made as a customer makes it (create_organization by
//      its owner, then create_api_key with the scim:provision scope, both
//      through /rest/v1), put on the enterprise plan with seats for all;
//   2. 10,000 provisioned members bulk-loaded in SQL (auth.users,
//      organization_members, scim_users with SCIM attributes as Okta sends
//      them), set-based from generate_series, then ANALYZE;
//   3. one client, sequential requests through the gateway, `seconds` each
//      (default 10) after 1 s of warm-up: GET /functions/v1/health
//      (baseline: the same gateway, a function that does almost nothing),
//      GET /Users?startIndex=<random page>&count=100, and
//      GET /Users?filter=userName eq "<random member>"; p50, p99, max and
//      requests/s of each, and their ratio to the baseline;
//   4. where the list's time goes, in the database: private.scim_list_users
//      for the first and the last page, timed from one connection.
// `npm run bench -- scim [seconds]`.
import http from "node:http";
import postgres from "postgres";
import { mintUserToken } from "../dev/jwt.mjs";
import { ratio } from "./load.mjs";

const MEMBERS = 10_000;
const PAGE = 100;
const TARGET_P99_MS = 50;
const WARMUP_MS = 1000;
// Bounds on each phase besides its time.
const MAX_REQUESTS = 200_000;
const SQL_REPEATS = 20;

// node:http with keep-alive, as load.mjs posts: fetch costs the client CPU it
// shares with the server it measures.
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(url), { method: "GET", agent, headers }, (
      res,
    ) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          text: Buffer.concat(chunks).toString("utf8"),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sequential requests (one in flight) for `ms` after a warm-up; `request` throws on a wrong answer. */
async function sequential(request, ms) {
  const run = async (duration, latencies) => {
    const deadline = performance.now() + duration;
    let failed = 0;
    let firstError = null;
    let n = 0;
    while (performance.now() < deadline && n++ < MAX_REQUESTS) {
      const started = performance.now();
      try {
        await request();
      } catch (err) {
        failed++;
        firstError ??= err;
      }
      latencies?.push(performance.now() - started);
    }
    return { failed, firstError };
  };
  await run(WARMUP_MS, null);
  const latencies = [];
  const started = performance.now();
  const { failed, firstError } = await run(ms, latencies);
  const seconds = (performance.now() - started) / 1000;
  if (firstError) {
    console.error(`  first failure: ${firstError.message ?? firstError}`);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    n: latencies.length,
    rps: (latencies.length - failed) / seconds,
    failed,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies[latencies.length - 1],
  };
}

function show(label, r) {
  console.log(
    `${label.padEnd(50)} ${r.rps.toFixed(0).padStart(5)} req/s  p50 ${
      r.p50.toFixed(2).padStart(6)
    } ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  max ${
      r.max.toFixed(2).padStart(7)
    } ms  (${r.n} requests${r.failed ? `, ${r.failed} failed` : ""})`,
  );
}

function target(label, p99) {
  console.log(
    `${label}: p99 ${p99.toFixed(2)} ms (target <= ${TARGET_P99_MS} ms: ${
      p99 <= TARGET_P99_MS ? "met" : "NOT met"
    })`,
  );
}

// ---------------------------------------------------------------------------
// Fixtures.

async function rpc(state, token, fn, body) {
  const res = await fetch(`${state.apiUrl}/rest/v1/rpc/${fn}`, {
    method: "POST",
    headers: {
      apikey: state.keys.anonKey,
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
    },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) {
    throw new Error(`${fn}: HTTP ${res.status} ${JSON.stringify(json)}`);
  }
  return json;
}

/** The owner, the organization and a scim:provision key, as the integration test makes them. */
async function organization(sql, state) {
  const ownerId = crypto.randomUUID();
  const email = `scim-bench-owner-${ownerId.slice(0, 8)}@bench.example`;
  await sql`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
    values (${ownerId}, 'authenticated', 'authenticated', ${email}, now(),
            '{"provider": "email", "providers": ["email"]}', '{}')`;
  const token = await mintUserToken({ sub: ownerId, email }, state.keys.signer);
  const org = await rpc(state, token, "create_organization", {
    p_name: "SCIM bench",
    p_slug: `scim-bench-${crypto.randomUUID().slice(0, 8)}`,
  });
  // Seats for every member the identity provider pushes.
  await sql`
    update public.organizations set plan = 'enterprise', seat_limit_override = ${
    MEMBERS + 10
  }
    where id = ${org.id}`;
  const [key] = await rpc(state, token, "create_api_key", {
    p_org_id: org.id,
    p_name: "Okta SCIM",
    p_scopes: ["scim:provision"],
  });
  return { orgId: org.id, secret: key.secret };
}

/**
 * MEMBERS provisioned users, as scim_put_user leaves them (an SSO auth user,
 * an active member, the scim_users row with the attributes as sent), in three
 * set-based statements. Fixture data, not activity: the member triggers
 * (seat check per row, audit chain, webhook events) are bypassed, as
 * tenancy.mjs loads its fixtures, and joined_at set here instead.
 */
async function provision(sql, orgId) {
  const tag = crypto.randomUUID().slice(0, 8);
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`
      create temp table scim_bench_users on commit drop as
      select g, gen_random_uuid() as user_id,
             'user' || g || '-' || ${tag} || '@scim-bench.example' as email,
             now() - make_interval(secs => ${MEMBERS} - g) as created_at
      from generate_series(1, ${MEMBERS}) g`;
    await tx`
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data,
                              raw_user_meta_data, is_sso_user, created_at, updated_at)
      select user_id, 'authenticated', 'authenticated', email, created_at,
             '{"provider": "scim", "providers": ["scim"]}', '{}', true, created_at, created_at
      from scim_bench_users`;
    await tx`
      insert into public.organization_members (org_id, user_id, role, status, email, joined_at)
      select ${orgId}, user_id, 'member', 'active', email, created_at from scim_bench_users`;
    await tx`
      insert into public.scim_users (org_id, user_id, user_name, external_id, display_name, attributes,
                                     created_at, updated_at)
      select ${orgId}, user_id, email, '00u' || lpad(g::text, 8, '0'), 'User ' || g,
             jsonb_build_object(
               'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'),
               'name', jsonb_build_object('givenName', 'User', 'familyName', 'Number ' || g),
               'emails', jsonb_build_array(jsonb_build_object('primary', true, 'value', email, 'type', 'work')),
               'locale', 'en-US'),
             created_at, created_at
      from scim_bench_users`;
  });
  await sql`analyze auth.users, public.organization_members, public.scim_users`;
  const [{ n }] = await sql`
    select count(*)::int as n from public.scim_users where org_id = ${orgId}`;
  if (n !== MEMBERS) throw new Error(`provisioned ${n}, expected ${MEMBERS}`);
  return sql`
    select user_name from public.scim_users where org_id = ${orgId}`.then((
    rows,
  ) => rows.map((r) => r.user_name));
}

// ---------------------------------------------------------------------------

export async function run(state, args) {
  const seconds = Math.max(1, Math.min(600, Number(args[0] ?? 10) || 10));
  const ms = seconds * 1000;
  const sql = postgres(state.dbUrl, { max: 1, onnotice: () => {} });
  try {
    // health is rate limited per client IP; a limit that never denies, as
    // gateway.mjs measures it.
    await sql`
      insert into public.rate_limit_policies (scope, endpoint, request_limit, window_ms)
      values ('ip', 'health', 100000000, 1000)`;
    const { orgId, secret } = await organization(sql, state);
    const t0 = performance.now();
    const userNames = await provision(sql, orgId);
    console.log(
      `scim benchmark: ${MEMBERS} members provisioned in SQL in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s; one client, sequential requests through the gateway, ${seconds} s each after 1 s warm-up\n`,
    );

    const base = `${state.apiUrl}/functions/v1/scim/v2`;
    const auth = { Authorization: `Bearer ${secret}` };
    const pages = MEMBERS / PAGE;
    const health = await sequential(async () => {
      const r = await get(`${state.apiUrl}/functions/v1/health`);
      if (r.status !== 200) throw new Error(`health: HTTP ${r.status}`);
    }, ms);
    const list = await sequential(async () => {
      const startIndex = 1 + PAGE * Math.floor(Math.random() * pages);
      const r = await get(
        `${base}/Users?startIndex=${startIndex}&count=${PAGE}`,
        auth,
      );
      if (r.status !== 200) {
        throw new Error(`list: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      }
      const body = JSON.parse(r.text);
      if (body.totalResults !== MEMBERS || body.Resources.length !== PAGE) {
        throw new Error(
          `list: totalResults ${body.totalResults}, ${body.Resources.length} resources`,
        );
      }
    }, ms);
    const filter = await sequential(async () => {
      const userName = userNames[Math.floor(Math.random() * userNames.length)];
      const r = await get(
        `${base}/Users?filter=${
          encodeURIComponent(`userName eq "${userName}"`)
        }`,
        auth,
      );
      if (r.status !== 200) {
        throw new Error(`filter: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      }
      const body = JSON.parse(r.text);
      if (body.totalResults !== 1 || body.Resources[0].userName !== userName) {
        throw new Error(`filter: totalResults ${body.totalResults}`);
      }
    }, ms);

    show("GET /functions/v1/health (baseline)", health);
    show(`GET /Users page of ${PAGE}, random startIndex`, list);
    show(`GET /Users?filter=userName eq "<random member>"`, filter);
    console.log("");
    ratio("list p50 / health p50", list.p50 / health.p50);
    ratio("list p99 / health p99", list.p99 / health.p99);
    ratio("filter p50 / health p50", filter.p50 / health.p50);
    ratio("filter p99 / health p99", filter.p99 / health.p99);
    target(`list page of ${PAGE} in ${MEMBERS} members`, list.p99);
    target("filter userName eq", filter.p99);

    // Where the list's time goes: the function alone, in the database.
    const fn = async (label, startIndex, attribute, value) => {
      const args = [orgId, base, attribute, value, startIndex, PAGE];
      await sql`select * from private.scim_list_users(${args[0]}::uuid, ${
        args[1]
      }, ${args[2]}, ${args[3]}, ${args[4]}::int, ${args[5]}::int)`;
      const started = performance.now();
      for (let i = 0; i < SQL_REPEATS; i++) {
        await sql`select * from private.scim_list_users(${args[0]}::uuid, ${
          args[1]
        }, ${args[2]}, ${args[3]}, ${args[4]}::int, ${args[5]}::int)`;
      }
      const mean = (performance.now() - started) / SQL_REPEATS;
      console.log(
        `  ${label.padEnd(58)} ${mean.toFixed(2).padStart(7)} ms a call`,
      );
      return mean;
    };
    console.log(
      `\nprivate.scim_list_users from one connection (postgres.js, mean of ${SQL_REPEATS}):`,
    );
    await fn("first page (startIndex 1)", 1, null, null);
    await fn(
      `last page (startIndex ${MEMBERS - PAGE + 1})`,
      MEMBERS - PAGE + 1,
      null,
      null,
    );
    await fn(
      "userName eq (one member)",
      1,
      "username",
      userNames[MEMBERS / 2],
    );
  } finally {
    await sql.end();
    agent.destroy();
  }
}
