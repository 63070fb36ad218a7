// A function whose only change is a SET clause (jit, plan_cache_mode,
// search_path, ...) needs `alter function ... set`, not the whole body again:
// differs re-create the function, and a one-line tuning change of a 500-line
// function would read in review as a 500-line migration.
import postgres from "postgres";

// Everything pg_proc says of a function but its SET clauses.
const FUNCTIONS = `
  select p.oid::regprocedure::text as signature,
         pg_catalog.pg_get_function_identity_arguments(p.oid) as args,
         n.nspname as schema, p.proname as name,
         coalesce(p.proconfig, '{}') as config,
         pg_catalog.md5(pg_catalog.concat_ws('|', p.prosrc, p.probin,
           pg_catalog.pg_get_function_result(p.oid),
           pg_catalog.pg_get_function_arguments(p.oid), p.prolang::text,
           p.provolatile, p.proisstrict, p.prosecdef, p.proleakproof,
           p.proparallel, p.procost, p.prorows, p.prokind,
           pg_catalog.pg_get_function_sqlbody(p.oid))) as rest
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = any($1)`;

async function functionsOf(url, schemas) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // regprocedure prints names qualified only outside the search path.
    await sql`select pg_catalog.set_config('search_path', 'pg_catalog', false)`;
    const rows = await sql.unsafe(FUNCTIONS, [schemas]);
    return new Map(rows.map((r) => [r.signature, r]));
  } finally {
    await sql.end();
  }
}

const settingMap = (config) =>
  new Map(config.map((c) => {
    const at = c.indexOf("=");
    return [c.slice(0, at), c.slice(at + 1)];
  }));

// proconfig keeps search_path as a list of identifiers, "" for the empty one.
function settingValue(name, value) {
  if (name !== "search_path") return `'${value.replace(/'/g, "''")}'`;
  return value.split(/,\s*/).map((v) =>
    v === '""' ? "''" : `'${v.replace(/^"|"$/g, "").replace(/'/g, "''")}'`
  ).join(", ");
}

/** The functions of `to` that differ from `from` only in their SET clauses. */
export async function settingsOnlyChanges(fromUrl, toUrl, schemas) {
  const [before, after] = await Promise.all([
    functionsOf(fromUrl, schemas),
    functionsOf(toUrl, schemas),
  ]);
  const changes = [];
  for (const [signature, next] of after) {
    const prev = before.get(signature);
    if (!prev || prev.rest !== next.rest) continue;
    const a = settingMap(prev.config);
    const b = settingMap(next.config);
    const statements = [];
    for (const [name, value] of b) {
      if (a.get(name) !== value) {
        statements.push(
          `alter function ${signature} set ${name} to ${
            settingValue(name, value)
          };`,
        );
      }
    }
    for (const name of a.keys()) {
      if (!b.has(name)) {
        statements.push(`alter function ${signature} reset ${name};`);
      }
    }
    if (statements.length) changes.push({ ...next, statements });
  }
  return changes;
}

/**
 * Replaces the differ's CREATE OR REPLACE FUNCTION of each settings-only change
 * with its ALTER FUNCTION statements.
 */
export function alterSettingsInPlace(diff, changes) {
  let out = diff;
  for (const change of changes) {
    const head = new RegExp(
      `CREATE OR REPLACE FUNCTION "?${change.schema}"?\\."?${change.name}"?\\s*\\(`,
    );
    const match = head.exec(out);
    if (!match) continue;
    const tag = /AS (\$[A-Za-z_]*\$)/.exec(out.slice(match.index));
    if (!tag) continue;
    const bodyStart = match.index + tag.index + tag[0].length;
    const bodyEnd = out.indexOf(tag[1], bodyStart);
    const end = out.indexOf(";", bodyEnd + tag[1].length);
    if (bodyEnd < 0 || end < 0) continue;
    out = out.slice(0, match.index) + change.statements.join("\n") +
      out.slice(end + 1);
  }
  return out.trim();
}
