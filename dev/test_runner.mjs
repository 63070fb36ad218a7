// `npm test`: a throwaway stack on free ports and a temporary directory (never the
// developer's), then static checks, pgTAP through pg_prove and Deno tests against
// it. The last line is "N passed, N failed" over every test and check that ran.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { DB_PASSWORD, dbUrl, DENO, ROOT, SUPABASE_CLI } from "./config.mjs";
import { withThrowawayStack } from "./stack.mjs";
import { generateTypes, TYPES_FILE } from "./types.mjs";
import { psqlFile } from "./postgres.mjs";

/** Runs a command, streaming its output, and returns its exit code and output. */
function run(cmd, args, { env = {}, quiet = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (stream, sink) =>
      stream.on("data", (chunk) => {
        output += chunk;
        if (!quiet) sink.write(chunk);
      });
    collect(child.stdout, process.stdout);
    collect(child.stderr, process.stderr);
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
    child.on("error", (err) => resolve({ code: 1, output: String(err) }));
  });
}

function typeScriptFiles(dir) {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(ROOT, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const banner = (title) => console.log(`\n=== ${title} ===`);

/** Static checks: each counts as one test. */
async function staticChecks(state) {
  const checks = [];
  const check = async (name, fn) => {
    banner(name);
    let ok;
    try {
      ok = await fn();
    } catch (err) {
      console.error(err.message ?? err);
      ok = false;
    }
    console.log(ok ? `ok - ${name}` : `FAILED - ${name}`);
    checks.push({ name, ok });
  };
  const dbEnv = { PGSSLMODE: "disable" };

  await check(
    "deno fmt --check",
    async () => (await run(DENO, ["fmt", "--check"])).code === 0,
  );
  await check("deno lint", async () => (await run(DENO, ["lint"])).code === 0);
  await check("deno check", async () =>
    (await run(DENO, [
      "check",
      ...typeScriptFiles("supabase/functions"),
      ...typeScriptFiles("tests"),
    ])).code === 0);
  await check(
    "lock files: no xml-crypto or xmldom below the CVE floors",
    async () => {
      const { lockFloorViolations } = await import("./lock_floors.mjs");
      const violations = lockFloorViolations();
      for (const v of violations) console.error(v);
      return violations.length === 0;
    },
  );
  // Builds its own two databases (migrations, schemas) on throwaway clusters.
  await check(
    "supabase/schemas and supabase/migrations agree (db:drift)",
    async () => {
      const { dbDrift } = await import("./schema_commands.mjs");
      return (await dbDrift()) === 0;
    },
  );
  await check(
    "Supabase advisors: no warning (supabase db advisors)",
    async () => {
      const { checkAdvisors } = await import("./advisors.mjs");
      return checkAdvisors(state.dbPort);
    },
  );
  await check(
    "supabase db lint (plpgsql_check)",
    async () =>
      (await run(SUPABASE_CLI, [
        "db",
        "lint",
        `--remote=${dbUrl(state.dbPort)}`,
        "-s",
        "public,private",
        "--fail-on",
        "error",
        "--workdir",
        ROOT,
      ], { env: dbEnv })).code === 0,
  );
  await check("database.types.ts matches the migrations", () => {
    const fresh = generateTypes(state.dbPort);
    const committed = readFileSync(TYPES_FILE, "utf8");
    if (fresh !== committed) {
      console.error(
        `${
          relative(ROOT, TYPES_FILE)
        } is stale: run \`npm run dev && npm run types\` and commit it`,
      );
    }
    return fresh === committed;
  });
  return {
    passed: checks.filter((c) => c.ok).length,
    failed: checks.filter((c) => !c.ok).length,
  };
}

async function pgTap(state) {
  banner("pgTAP (pg_prove)");
  psqlFile(state.dbPort, join(ROOT, "dev", "sql", "test_helpers.sql"));
  const { code, output } = await run("pg_prove", [
    "-h",
    "127.0.0.1",
    "-p",
    String(state.dbPort),
    "-U",
    "postgres",
    "-d",
    "postgres",
    "--ext",
    ".sql",
    "-r",
    "-v",
    "supabase/tests",
  ], { env: { PGPASSWORD: DB_PASSWORD } });
  const passed = (output.match(/^ok \d+/gm) ?? []).length;
  let failed = (output.match(/^not ok \d+/gm) ?? []).length;
  // A file that died part way has no "not ok" for the tests it never ran.
  for (
    const [, planned, ran] of output.matchAll(
      /You planned (\d+) tests? but ran (\d+)/g,
    )
  ) {
    failed += Math.max(0, Number(planned) - Number(ran));
  }
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

async function denoTests(state) {
  banner("deno test");
  const { code, output } = await run(DENO, ["test", "-A", "--no-prompt"], {
    env: { MERIDIAN_STACK_DIR: state.dir },
  });
  const m = output.match(/(\d+) passed.*?\| (\d+) failed/);
  const passed = m ? Number(m[1]) : 0;
  let failed = m ? Number(m[2]) : 0;
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

export async function runAllTests() {
  const totals = { passed: 0, failed: 0 };
  const add = (r) => {
    totals.passed += r.passed;
    totals.failed += r.failed;
  };
  try {
    banner("starting a test stack");
    await withThrowawayStack("test", { durable: false }, async (state) => {
      console.log(
        `test stack at ${state.apiUrl} (db ${state.dbPort}) in ${state.dir}`,
      );
      add(await staticChecks(state));
      add(await pgTap(state));
      add(await denoTests(state));
    });
  } catch (err) {
    console.error(err?.stack ?? err);
    totals.failed += 1;
  }
  console.log(`\n${totals.passed} passed, ${totals.failed} failed`);
  return totals.failed === 0 ? 0 : 1;
}
