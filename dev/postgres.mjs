// The local PostgreSQL 15 cluster: Debian's binaries, data under the stack dir,
// run as the `postgres` OS user when we are root (Postgres refuses root).
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { dbUrl, PG_BIN, ROOT, SUPABASE_CLI } from "./config.mjs";
import { asPostgresUser, isRoot, runChecked } from "./processes.mjs";

const pgTool = (name) => join(PG_BIN, name);

function runAsPostgres(tool, args) {
  const { cmd, args: argv } = asPostgresUser(pgTool(tool), args);
  return runChecked(cmd, argv);
}

function ownByPostgres(dir) {
  mkdirSync(dir, { recursive: true });
  if (!isRoot()) return;
  const uid = Number(runChecked("id", ["-u", "postgres"]).trim());
  const gid = Number(runChecked("id", ["-g", "postgres"]).trim());
  chownSync(dir, uid, gid);
}

export function clusterExists(paths) {
  return existsSync(join(paths.data, "PG_VERSION"));
}

// Settings a hosted Supabase project has (pg_cron preloaded, plpgsql_check for
// `supabase db lint`). Durability is traded for speed only in throwaway test stacks.
function clusterSettings({ durable }) {
  const lines = [
    "listen_addresses = '127.0.0.1'",
    "max_connections = 200",
    "shared_preload_libraries = 'pg_stat_statements, plpgsql, plpgsql_check, pg_cron'",
    "cron.database_name = 'postgres'",
    "timezone = 'UTC'",
    "log_timezone = 'UTC'",
    // Memory and WAL about as Supabase sizes a 4 GB compute instance (a
    // quarter of memory for buffers, 4 GB of WAL between checkpoints);
    // Postgres's own defaults (128 MB, 1 GB) are sized for a laptop, and
    // ingestion outgrows them in a minute.
    "shared_buffers = '1GB'",
    "effective_cache_size = '3GB'",
    "work_mem = '5MB'",
    "maintenance_work_mem = '256MB'",
    "wal_buffers = '16MB'",
    "min_wal_size = '1GB'",
    "max_wal_size = '4GB'",
    "checkpoint_completion_target = 0.9",
    "random_page_cost = 1.1",
  ];
  if (!durable) {
    lines.push(
      "fsync = off",
      "synchronous_commit = off",
      "full_page_writes = off",
    );
  }
  return `\n# Meridian local stack\n${lines.join("\n")}\n`;
}

export function initCluster(paths, { durable, password }) {
  ownByPostgres(join(paths.data, ".."));
  ownByPostgres(paths.socket);
  const pwfile = join(paths.data, "..", ".pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o644 });
  try {
    runAsPostgres("initdb", [
      "-D",
      paths.data,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
    ]);
  } finally {
    rmSync(pwfile, { force: true });
  }
  // Appending keeps the file's owner, so root may write it directly.
  appendFileSync(
    join(paths.data, "postgresql.conf"),
    clusterSettings({ durable }),
  );
}

export function startCluster(paths, port) {
  ownByPostgres(paths.socket);
  runAsPostgres("pg_ctl", [
    "-D",
    paths.data,
    "-l",
    paths.pgLog,
    "-o",
    // pg_cron runs each job over a client connection to cron.host (default
    // localhost, by TCP), where this cluster asks for a password pg_cron does
    // not have: every scheduled job failed with "connection failed". Through
    // the socket, local connections are trusted, as pg_cron's are on a hosted
    // project.
    `-p ${port} -k ${paths.socket} -c cron.host=${paths.socket}`,
    "-w",
    "-t",
    "60",
    "start",
  ]);
}

export function stopCluster(paths) {
  if (!clusterRunning(paths)) return;
  runAsPostgres("pg_ctl", ["-D", paths.data, "-m", "fast", "-w", "stop"]);
}

export function clusterRunning(paths) {
  if (!clusterExists(paths)) return false;
  const { cmd, args } = asPostgresUser(pgTool("pg_ctl"), [
    "-D",
    paths.data,
    "status",
  ]);
  try {
    runChecked(cmd, args);
    return true;
  } catch {
    // pg_ctl status exits 3 when the server is not running.
    return false;
  }
}

export function psqlFile(port, file) {
  runChecked(pgTool("psql"), [
    dbUrl(port),
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-f",
    file,
  ], { env: { ...process.env, PGSSLMODE: "disable" } });
}

/**
 * Applies pending migrations with the Supabase CLI, which records them in
 * supabase_migrations.schema_migrations exactly as `supabase db push` does.
 */
export function migrate(port) {
  return runChecked(SUPABASE_CLI, [
    "migration",
    "up",
    `--remote=${dbUrl(port)}`,
    "--yes",
    "--workdir",
    ROOT,
  ], { env: { ...process.env, PGSSLMODE: "disable" } });
}
