// Direct Postgres access (postgres.js) for set-based SQL calls where a round trip
// through PostgREST would cost more than it gives. SUPABASE_DB_URL is injected by
// the hosted Edge Runtime and by the local stack.
import postgres from "postgres";

export type PoolOptions = {
  /**
   * Bounds every statement on the pool, so overload surfaces as a timeout
   * (57014, answered 503) instead of a request that hangs. Sent as a startup
   * parameter: unlike `set local`, it costs no round trip per call, and
   * postgres.js spends about 0.3 ms of CPU on each.
   */
  statementTimeoutMs?: number;
};

// One pool per distinct options in this function process (in practice one).
const pools = new Map<string, postgres.Sql>();

export function sql(options: PoolOptions = {}): postgres.Sql {
  const key = JSON.stringify(options);
  const existing = pools.get(key);
  if (existing) return existing;
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new Error("SUPABASE_DB_URL is not set");
  const pool = postgres(url, {
    max: Number(Deno.env.get("MERIDIAN_DB_POOL_SIZE") ?? 5),
    // Fail fast so callers can answer 503 instead of hanging on a dead database.
    connect_timeout: 2,
    idle_timeout: 20,
    // Supavisor in transaction mode does not support prepared statements.
    prepare: false,
    onnotice: () => {},
    connection: options.statementTimeoutMs
      ? { statement_timeout: options.statementTimeoutMs }
      : {},
  });
  pools.set(key, pool);
  return pool;
}
