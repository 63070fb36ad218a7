// Every RPC PostgREST exposes, called through /rest/v1/rpc by a signed-in
// owner of an organization with ids that do not exist: each answer is a 2xx or
// a 4xx, never a 5xx (issue 26, item 7: "not found" raised as P0002 was a 500).
// The list comes from the catalog, so a new RPC is walked without being named.
import assert from "node:assert/strict";
import { adminSql, client, createUser, stack } from "../support/stack.ts";

type Rpc = { name: string; args: { name: string; type: string }[] };

async function exposedRpcs(sql: ReturnType<typeof adminSql>): Promise<Rpc[]> {
  const rows = await sql<
    { name: string; names: string[] | null; types: string[] }[]
  >`
    select p.proname as name, p.proargnames as names,
           array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) t) as types
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.prokind = 'f'
      and has_function_privilege('authenticated', p.oid, 'execute')
      and p.prorettype <> 'trigger'::regtype
    order by 1`;
  return rows.map((r) => ({
    name: r.name,
    args: r.types.map((type, i) => ({
      name: r.names?.[i] ?? `$${i + 1}`,
      type,
    })),
  }));
}

async function sampleValue(
  sql: ReturnType<typeof adminSql>,
  arg: { name: string; type: string },
  orgId: string,
): Promise<unknown> {
  if (arg.type.endsWith("[]")) return [];
  switch (arg.type) {
    case "uuid":
      return arg.name === "p_org_id" ? orgId : crypto.randomUUID();
    case "text":
    case "character varying":
      return arg.name === "p_slug"
        ? `absent-${crypto.randomUUID().slice(0, 8)}`
        : "absent";
    case "integer":
    case "bigint":
    case "smallint":
    case "numeric":
      return 1;
    case "boolean":
      return false;
    case "jsonb":
    case "json":
      return {};
    case "timestamp with time zone":
      return new Date().toISOString();
    case "interval":
      return "1 hour";
    case "inet":
      return "203.0.113.1";
  }
  // An enum: its first label.
  const [row] = await sql.unsafe(
    `select (pg_catalog.enum_range(null::${arg.type}))[1]::text as v`,
  );
  return row.v;
}

Deno.test("no public RPC answers a 5xx for ids that do not exist", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "rpc-walker");
    const { data: org, error } = await client(owner.token).rpc(
      "create_organization",
      { p_name: "Walked", p_slug: `walked-${crypto.randomUUID().slice(0, 8)}` },
    );
    assert.equal(error, null);
    const rpcs = await exposedRpcs(sql);
    assert.ok(rpcs.length >= 15, `only ${rpcs.length} RPCs found`);
    const fiveHundreds: string[] = [];
    for (const rpc of rpcs) {
      const body: Record<string, unknown> = {};
      for (const arg of rpc.args) {
        body[arg.name] = await sampleValue(sql, arg, org!.id);
      }
      const res = await fetch(`${stack().apiUrl}/rest/v1/rpc/${rpc.name}`, {
        method: "POST",
        headers: {
          apikey: stack().keys.anonKey,
          Authorization: `Bearer ${owner.token}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 500) {
        fiveHundreds.push(`${rpc.name}: ${res.status} ${text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(fiveHundreds, []);
  } finally {
    await sql.end();
  }
});
