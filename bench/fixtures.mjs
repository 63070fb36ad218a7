// Data the benchmarks arrange before measuring.

/**
 * A fresh organization on `plan` with one source and a write key for it, as
 * the ingest endpoint sees a customer. Returns { orgId, sourceId, writeKey }.
 */
export async function createIngestOrg(sql, { name, plan = "enterprise" }) {
  const [org] = await sql`
    insert into public.organizations (name, slug, plan)
    values (${name}, ${`bench-${crypto.randomUUID().slice(0, 8)}`}, ${plan})
    returning id`;
  const [source] = await sql`
    insert into public.sources (org_id, name) values (${org.id}, 'bench') returning id`;
  const writeKey = `wk_test_bench_${crypto.randomUUID().replaceAll("-", "")}`;
  const [key] = await sql`
    insert into public.api_keys (org_id, name, kind, environment, scopes, prefix, last_four, source_id)
    values (${org.id}, 'bench', 'write', 'test', '{events:write}', ${
    writeKey.slice(0, 12)
  }, ${writeKey.slice(-4)}, ${source.id})
    returning id`;
  await sql`
    insert into private.api_key_secrets (key_hash, org_id, key_id)
    values (extensions.digest(${writeKey}, 'sha256'), ${org.id}, ${key.id})`;
  return { orgId: org.id, sourceId: source.id, writeKey };
}
