// Access to the stack a test run started (dev/test_runner.mjs passes its directory
// in MERIDIAN_STACK_DIR): URLs, keys, a direct database connection, and users.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { mintUserToken } from "../../dev/jwt.mjs";
import type { Database } from "../../supabase/functions/_shared/database.types.ts";

export type Signer =
  | { alg: "HS256"; secret: string }
  | { alg: "ES256"; privateJwk: Record<string, unknown> };

export type StackState = {
  apiUrl: string;
  dbUrl: string;
  dir: string;
  postgrestAdminPort: number;
  keys: {
    alg: string;
    anonKey: string;
    serviceRoleKey: string;
    jwtSecret?: string;
    signer: Signer;
    jwks: { keys: Record<string, unknown>[] };
  };
  functions: { name: string; port: number; verifyJwt: boolean }[];
};

export function stack(): StackState {
  const dir = Deno.env.get("MERIDIAN_STACK_DIR");
  if (!dir) {
    throw new Error(
      "MERIDIAN_STACK_DIR is not set: run the tests with `npm test`",
    );
  }
  return JSON.parse(Deno.readTextFileSync(`${dir}/stack.json`));
}

/** A direct connection as the database owner, for arranging test data. */
export function adminSql(): postgres.Sql {
  return postgres(stack().dbUrl, { max: 2, onnotice: () => {} });
}

export type TestUser = { id: string; email: string; token: string };

/** Creates a user in auth.users and mints a session token for it. */
export async function createUser(
  sql: postgres.Sql,
  label: string,
): Promise<TestUser> {
  const id = crypto.randomUUID();
  const email = `${label}-${id.slice(0, 8)}@test.meridian.local`;
  await sql`
    insert into auth.users (id, aud, role, email, email_confirmed_at,
                            raw_app_meta_data, raw_user_meta_data)
    values (${id}, 'authenticated', 'authenticated', ${email}, now(),
            '{"provider": "email", "providers": ["email"]}', '{}')`;
  const token = await mintUserToken({ sub: id, email }, stack().keys.signer);
  return { id, email, token };
}

/** supabase-js as a web client would build it, optionally signed in as a user. */
export function client(accessToken?: string): SupabaseClient<Database> {
  const { apiUrl, keys } = stack();
  return createClient<Database>(apiUrl, keys.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    global: accessToken
      ? { headers: { Authorization: `Bearer ${accessToken}` } }
      : {},
  });
}

export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`);
}

/**
 * Waits until exactly one backend running a query like `pattern` waits on a
 * lock: the moment a test of lock order lets the holder go.
 */
export function waitForLockWait(
  sql: postgres.Sql,
  what: string,
  pattern: string,
): Promise<void> {
  return waitFor(what, async () => {
    const [{ n }] = await sql`
      select count(*)::int as n from pg_stat_activity
      where wait_event_type = 'Lock' and query like ${pattern}`;
    return n === 1;
  }, 10_000);
}

/** Runs an `npm run` command of the test stack (db:stop, db:start, ...). */
export async function stackCli(command: string): Promise<void> {
  const out = await new Deno.Command("node", {
    args: ["dev/cli.mjs", command],
    env: { MERIDIAN_STACK_DIR: stack().dir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${command} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}
