// A Postgres cluster of its own, in a temporary directory, with the platform
// layer applied: for building a database from migrations or from schema files
// and comparing them. Each database gets its own cluster because pg_cron lives
// in one database per cluster (cron.database_name), so two builds side by side
// in one cluster could not both schedule jobs.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DB_PASSWORD, dbUrl, ROOT, stackPaths } from "./config.mjs";
import {
  initCluster,
  psqlFile,
  startCluster,
  stopCluster,
} from "./postgres.mjs";
import { freePort } from "./processes.mjs";

/**
 * Runs fn({ port, url }) against a fresh cluster holding the platform layer,
 * then stops and deletes it, whatever fn did.
 */
export async function withThrowawayDatabase(prefix, fn) {
  const dir = mkdtempSync(join(tmpdir(), `meridian-${prefix}-`));
  // The postgres OS user must reach its data directory inside.
  chmodSync(dir, 0o755);
  const paths = stackPaths(dir);
  try {
    initCluster(paths, { durable: false, password: DB_PASSWORD });
    const port = await freePort();
    startCluster(paths, port);
    psqlFile(port, join(ROOT, "dev", "sql", "platform.sql"));
    return await fn({ port, url: dbUrl(port) });
  } finally {
    try {
      stopCluster(paths);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
