// Direct Postgres access (postgres.js) for set-based SQL calls where a round trip
// through PostgREST would cost more than it gives. SUPABASE_DB_URL is injected by
// the hosted Edge Runtime and by the local stack.
import postgres from "postgres";

let client: postgres.Sql | null = null;

export function sql(): postgres.Sql {
  if (client) return client;
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new Error("SUPABASE_DB_URL is not set");
  client = postgres(url, {
    max: Number(Deno.env.get("MERIDIAN_DB_POOL_SIZE") ?? 5),
    // Fail fast so callers can answer 503 instead of hanging on a dead database.
    connect_timeout: 2,
    idle_timeout: 20,
    // Supavisor in transaction mode does not support prepared statements.
    prepare: false,
    onnotice: () => {},
  });
  return client;
}
