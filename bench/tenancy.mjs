// Issue figures for tenancy, API keys and the audit log, each next to a
// baseline measured in the same run:
//   1. RLS overhead: a user reading one organization's rows of a 100k-row tenant
//      table through the policies, vs the same query as service_role.
//   2. verify_api_key on 100k keys, vs a bare lookup of the hash.
//   3. audit appends with the hash chain, vs plain INSERTs of the same rows.
import postgres from "postgres";
import { mintUserToken } from "../dev/jwt.mjs";
import { measureOps, ratio, report } from "./load.mjs";

const ORGS = 100;
const ROWS_PER_ORG = 1000; // 100k workspaces
const KEYS = 100_000;
const CLIENTS = 8;
const opts = { concurrency: CLIENTS, durationMs: 5000, warmupMs: 1000 };

async function seed(sql) {
  console.log(
    `seeding ${ORGS} organizations x ${ROWS_PER_ORG} workspaces and ${KEYS} API keys ...`,
  );
  await sql`
    insert into auth.users (id, aud, role, email)
    values ('00000000-0000-4000-9000-000000000001', 'authenticated', 'authenticated', 'bench@example.com')`;
  await sql`
    insert into public.organizations (id, name, slug, plan)
    select ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'Bench ' || g, 'bench-' || g,
           'enterprise'
    from generate_series(1, ${ORGS}) g`;
  await sql`
    insert into public.organization_members (org_id, user_id, role)
    values ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-9000-000000000001', 'member')`;
  // Bulk loads bypass the audit trigger: this is fixture data, not activity.
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`
      insert into public.workspaces (org_id, name, slug)
      select ('00000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid, 'Workspace ' || w, 'ws-' || w
      from generate_series(1, ${ORGS}) o, generate_series(1, ${ROWS_PER_ORG}) w`;
    await tx`
      insert into public.api_keys (org_id, id, name, scopes, prefix, last_four)
      select ('00000000-0000-4000-8000-' || lpad((1 + g % ${ORGS})::text, 12, '0'))::uuid,
             ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid,
             'key ' || g, '{customers:read}', 'mk_live_benc', lpad(g::text, 4, '0')
      from generate_series(1, ${KEYS}) g`;
    await tx`
      insert into private.api_key_secrets (key_hash, org_id, key_id)
      select extensions.digest('mk_live_bench_' || g, 'sha256'),
             ('00000000-0000-4000-8000-' || lpad((1 + g % ${ORGS})::text, 12, '0'))::uuid,
             ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid
      from generate_series(1, ${KEYS}) g`;
  });
  await sql`analyze`;
}

async function rlsOverhead(sql, state) {
  const org = "00000000-0000-4000-8000-000000000001";
  const token = await mintUserToken(
    { sub: "00000000-0000-4000-9000-000000000001", email: "bench@example.com" },
    state.keys.signer,
  );
  const claims = JSON.parse(
    atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")),
  );
  const asRole = (role, claimsJson) => async () => {
    await sql.begin(async (tx) => {
      await tx`select set_config('role', ${role}, true),
                      set_config('request.jwt.claims', ${claimsJson}, true)`;
      const rows =
        await tx`select id, name, slug from public.workspaces where org_id = ${org}`;
      if (rows.length !== ROWS_PER_ORG) {
        throw new Error(`expected ${ROWS_PER_ORG} rows, got ${rows.length}`);
      }
    });
  };
  console.log(
    `\n1. RLS overhead: one organization's ${ROWS_PER_ORG} rows of ${
      ORGS * ROWS_PER_ORG
    } workspaces`,
  );
  const service = await measureOps(
    asRole("service_role", '{"role":"service_role"}'),
    opts,
  );
  const user = await measureOps(
    asRole("authenticated", JSON.stringify(claims)),
    opts,
  );
  report("service_role, no policies (baseline)", service, "q/s");
  report("user JWT through RLS policies", user, "q/s");
  ratio(
    "RLS cost (service q/s / user q/s, target <= 1.5)",
    service.rps / user.rps,
  );
}

async function verifyThroughput(sql) {
  const secret = () => `mk_live_bench_${1 + Math.floor(Math.random() * KEYS)}`;
  console.log(
    `\n2. API key verification over ${KEYS} keys, ${CLIENTS} clients`,
  );
  const bare = await measureOps(async () => {
    const rows = await sql`
      select org_id, key_id from private.api_key_secrets
      where key_hash = extensions.digest(${secret()}, 'sha256')`;
    if (rows.length !== 1) throw new Error("bare lookup missed");
  }, opts);
  const verify = await measureOps(async () => {
    const rows = await sql`select * from private.verify_api_key(${secret()})`;
    if (rows.length !== 1) throw new Error("verify_api_key missed");
  }, opts);
  report("bare hash lookup (baseline)", bare, "q/s");
  report("private.verify_api_key", verify, "q/s");
  ratio("verify / bare lookup", verify.rps / bare.rps);
  console.log(
    `verify_api_key: ${verify.rps.toFixed(0)}/s (target >= 5000/s: ${
      verify.rps >= 5000 ? "met" : "NOT met"
    })`,
  );
}

async function auditThroughput(sql) {
  // One organization per client: chains serialize per organization, never globally.
  const orgOf = (w) =>
    `00000000-0000-4000-8000-${String(w + 2).padStart(12, "0")}`;
  const plainSeq = Array.from({ length: CLIENTS }, () => 1_000_000_000);
  console.log(
    `\n3. Audit appends, ${CLIENTS} clients on ${CLIENTS} organizations`,
  );
  const plain = await measureOps(async (w) => {
    plainSeq[w]++;
    await sql`
      insert into public.audit_log (org_id, seq, occurred_at, actor_type, action, resource_type,
        resource_id, after, risk, retention_until, prev_hash, hash)
      values (${orgOf(w)}, ${
      plainSeq[w]
    }, clock_timestamp(), 'system', 'bench.plain', 'bench',
        'r1', '{"k": "v"}', 'low', now() + interval '7 years', '\\x00', '\\x00')`;
  }, opts);
  const chained = await measureOps(async (w) => {
    const org = orgOf(w);
    await sql`
      select (private.append_audit(${org}::uuid, 'bench.chained', 'bench', 'r1', null,
        '{"k": "v"}'::jsonb, 'low')).seq`;
  }, opts);
  report("plain INSERT into audit_log (baseline)", plain, "rows/s");
  report("private.append_audit (hash chain)", chained, "rows/s");
  ratio("chained / plain (target >= 0.5)", chained.rps / plain.rps, 0.5);
}

const SECTIONS = {
  rls: rlsOverhead,
  keys: verifyThroughput,
  audit: auditThroughput,
};

/** `npm run bench -- tenancy [rls|keys|audit ...]`: all sections by default. */
export async function run(state, args = []) {
  const chosen = args.length ? args : Object.keys(SECTIONS);
  const unknown = chosen.filter((s) => !(s in SECTIONS));
  if (unknown.length) {
    throw new Error(
      `unknown section(s) ${unknown}; use ${Object.keys(SECTIONS)}`,
    );
  }
  const sql = postgres(state.dbUrl, { max: CLIENTS + 2, onnotice: () => {} });
  try {
    await seed(sql);
    for (const section of chosen) await SECTIONS[section](sql, state);
  } finally {
    await sql.end();
  }
}
