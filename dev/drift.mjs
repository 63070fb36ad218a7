// Compares the database that supabase/migrations build (what ships) with the one
// supabase/schemas build (what a reader is told is there). Three views of it:
//   1. pg_dump --schema-only of each, split into pg_dump's objects and normalised,
//      compared object by object: it sees what diff tools miss (SET clauses,
//      reloptions, SET STATISTICS, comments, column order, ACLs);
//   2. the reference tables (the files of 90_reference_data) and cron.job;
//   3. `supabase db diff` between them, a semantic second opinion.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import postgres from "postgres";
import { PG_BIN, ROOT, SUPABASE_CLI } from "./config.mjs";
import { migrate } from "./postgres.mjs";
import { loadSchemas, schemaFiles, SCHEMAS_DIR } from "./schemas.mjs";
import { withThrowawayDatabase } from "./throwaway_db.mjs";
import { runChecked } from "./processes.mjs";

const PG_ENV = { ...process.env, PGSSLMODE: "disable" };

// Partitions are made from today's date, and supabase_migrations only exists
// where the CLI applied migrations: neither is part of the schema.
const EXCLUDED_SCHEMAS = ["partitions", "supabase_migrations"];

/** Runs fn({ migrations, schemas }) with one database built each way. */
export async function withBothDatabases(fn) {
  return await withThrowawayDatabase("migrations", async (migrations) => {
    migrate(migrations.port);
    return await withThrowawayDatabase("schemas", async (schemas) => {
      await loadSchemas(schemas.url);
      return await fn({ migrations, schemas });
    });
  });
}

function pgDump(url) {
  return runChecked(join(PG_BIN, "pg_dump"), [
    "--schema-only",
    // pg_dump 15.14 prints a random \restrict key each run.
    "--restrict-key=meridian",
    ...EXCLUDED_SCHEMAS.map((s) => `--exclude-schema=${s}`),
    url,
  ], { env: PG_ENV, maxBuffer: 256 * 1024 * 1024 });
}

/**
 * Splits a dump into its objects, keyed by pg_dump's "-- Name: ...; Type: ...;
 * Schema: ..." header. An ACL's lines are sorted: their order follows the
 * history of grants, which two equal databases need not share.
 */
export function dumpObjects(dump) {
  const objects = new Map();
  const chunks = dump.split(/^--\n-- (?=Name: )/m).slice(1);
  for (const chunk of chunks) {
    const headerEnd = chunk.indexOf("\n");
    const key = chunk.slice(0, headerEnd).replace(/; Owner: .*$/, "");
    let body = chunk.slice(headerEnd + 1).replace(/^--\n/, "").trim();
    if (/; Type: (DEFAULT )?ACL;/.test(key)) {
      body = body.split("\n").filter((l) => l.trim()).sort().join("\n");
    }
    // Two objects can share a header (an ACL on a name twice): keep both.
    objects.set(key, objects.has(key) ? `${objects.get(key)}\n${body}` : body);
  }
  return objects;
}

/** Compares two dumps object by object; returns a list of differences. */
export function compareDumps(migrationsDump, schemasDump) {
  const a = dumpObjects(migrationsDump);
  const b = dumpObjects(schemasDump);
  const diffs = [];
  for (const [key, body] of a) {
    if (!b.has(key)) {
      diffs.push({ key, side: "migrations only", detail: body });
    } else if (b.get(key) !== body) {
      diffs.push({
        key,
        side: "differs",
        detail: unifiedDiff(body, b.get(key)),
      });
    }
  }
  for (const [key, body] of b) {
    if (!a.has(key)) diffs.push({ key, side: "schemas only", detail: body });
  }
  return diffs;
}

/** A minimal line diff (longest common subsequence) for one object's text. */
export function unifiedDiff(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  const lcs = Array.from(
    { length: x.length + 1 },
    () => new Int32Array(y.length + 1),
  );
  for (let i = x.length - 1; i >= 0; i--) {
    for (let j = y.length - 1; j >= 0; j--) {
      lcs[i][j] = x[i] === y[j]
        ? lcs[i + 1][j + 1] + 1
        : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      i++;
      j++;
    } else if (
      j < y.length && (i === x.length || lcs[i][j + 1] >= lcs[i + 1][j])
    ) {
      out.push(`+ ${y[j++]}`);
    } else {
      out.push(`- ${x[i++]}`);
    }
  }
  return out.join("\n");
}

/** The reference tables are the files of 90_reference_data, named by table. */
export function referenceTables() {
  return schemaFiles()
    .filter((f) => f.startsWith("90_reference_data/"))
    .map((f) => basename(f, ".sql"));
}

// Columns whose value is the time or a random id of the load, not data.
async function referenceRows(sql, table) {
  const [{ exists }] =
    await sql`select to_regclass(${table}) is not null as exists`;
  if (!exists) return ["(no such table)"];
  const cols = await sql`
    select a.attname
    from pg_catalog.pg_attribute a
    left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    where a.attrelid = ${table}::regclass and a.attnum > 0 and not a.attisdropped
      and coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid) !~ '(now|gen_random_uuid)\\(', true)
    order by a.attnum`;
  const list = cols.map((c) => `t.${c.attname}`).join(", ");
  const rows = await sql.unsafe(
    `select row(${list})::text as r from ${table} t order by 1`,
  );
  return rows.map((r) => r.r);
}

async function dataDifferences(migrationsUrl, schemasUrl) {
  const diffs = [];
  const a = postgres(migrationsUrl, { max: 1, onnotice: () => {} });
  const b = postgres(schemasUrl, { max: 1, onnotice: () => {} });
  try {
    const compare = (key, x, y) => {
      const xs = new Set(x);
      const ys = new Set(y);
      const only = (s, t) => [...s].filter((r) => !t.has(r));
      const lines = [
        ...only(xs, ys).map((r) => `- ${r}`),
        ...only(ys, xs).map((r) => `+ ${r}`),
      ];
      if (lines.length) {
        diffs.push({ key, side: "differs", detail: lines.join("\n") });
      }
    };
    for (const table of referenceTables()) {
      compare(
        `reference data ${table}`,
        await referenceRows(a, table),
        await referenceRows(b, table),
      );
    }
    const jobs = (sql) =>
      sql`select format('%s  %s  %s', jobname, schedule, command) as r
          from cron.job order by jobname`.then((rows) => rows.map((r) => r.r));
    compare("cron.job", await jobs(a), await jobs(b));
  } finally {
    await a.end();
    await b.end();
  }
  return diffs;
}

/** `supabase db diff --from <migrations> --to <schemas>`: the SQL that would turn one into the other. */
export function supabaseDiff(fromUrl, toUrl, schemas) {
  const out = runChecked(SUPABASE_CLI, [
    "db",
    "diff",
    "--from",
    fromUrl,
    "--to",
    toUrl,
    "--schema",
    schemas.join(","),
    "--workdir",
    ROOT,
  ], { env: PG_ENV, maxBuffer: 64 * 1024 * 1024 });
  return out.trim();
}

/** The schemas a diff should cover: every one but the system's and the excluded. */
export async function userSchemas(url) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`
      select nspname from pg_catalog.pg_namespace
      where nspname !~ '^pg_' and nspname <> 'information_schema'
        and nspname <> all(${EXCLUDED_SCHEMAS})
      order by 1`;
    return rows.map((r) => r.nspname);
  } finally {
    await sql.end();
  }
}

// What `npm run db:migration` writes in a header for the developer to replace.
export const UNWRITTEN_WHY = "REPLACE THIS LINE";

/** Generated migrations whose header still lacks its reason. */
export function unreviewedMigrations() {
  const dir = join(ROOT, "supabase", "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .filter((f) => readFileSync(join(dir, f), "utf8").includes(UNWRITTEN_WHY));
}

/** Every difference between the two databases; empty when they agree. */
export async function findDrift({ migrations, schemas }) {
  const diffs = unreviewedMigrations().map((file) => ({
    key: `supabase/migrations/${file}`,
    side: "unreviewed",
    detail:
      "its header still says REPLACE THIS LINE: say why the change is made",
  }));
  diffs.push(...compareDumps(pgDump(migrations.url), pgDump(schemas.url)));
  diffs.push(...await dataDifferences(migrations.url, schemas.url));
  const semantic = supabaseDiff(
    migrations.url,
    schemas.url,
    await userSchemas(migrations.url),
  );
  if (semantic) {
    diffs.push({ key: "supabase db diff", side: "differs", detail: semantic });
  }
  return diffs;
}

export function describeDrift(diffs) {
  const lines = [
    `supabase/migrations and supabase/schemas build different databases (${diffs.length} difference(s)):`,
    "",
  ];
  for (const d of diffs) {
    lines.push(`* ${d.key} (${d.side})`);
    lines.push(...d.detail.split("\n").map((l) => `    ${l}`));
    lines.push("");
  }
  lines.push(
    "'-' lines are what the migrations build, '+' lines what the schema files build.",
    "Changed a file in supabase/schemas? Generate its migration: npm run db:migration -- <name>",
    "Wrote or landed a migration without its schema change? Edit supabase/schemas to match it.",
    `(schema files: ${SCHEMAS_DIR})`,
  );
  return lines.join("\n");
}
