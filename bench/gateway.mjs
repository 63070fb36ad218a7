// What the gateway costs: the same PostgREST read and the same function call,
// through the gateway and straight to the upstream, in one run.
import postgres from "postgres";
import { mintUserToken } from "../dev/jwt.mjs";
import { measure, report } from "./load.mjs";

const ALICE = "00000000-0000-4000-a000-00000000a11c"; // from seed.sql

export async function run(state) {
  const token = await mintUserToken({ sub: ALICE }, state.keys.signer);
  const restHeaders = {
    apikey: state.keys.anonKey,
    Authorization: `Bearer ${token}`,
  };
  const health = state.functions.find((f) => f.name === "health");
  const opts = { concurrency: 8, durationMs: 5000 };
  // health is rate limited per client IP (20/s by default). Both paths are
  // measured as the same client IP, with a limit that never denies, so they
  // do the same work and only the gateway differs.
  const sql = postgres(state.dbUrl, { max: 1, onnotice: () => {} });
  await sql`
    insert into public.rate_limit_policies (scope, endpoint, request_limit, window_ms)
    values ('ip', 'health', 100000000, 1000)`;
  await sql.end();

  console.log(
    `gateway benchmark: 8 concurrent clients, 5 s each, after 1 s warm-up\n`,
  );
  const restDirect = await measure(
    () =>
      fetch(
        `http://127.0.0.1:${state.postgrestPort}/saved_views?select=id,name`,
        { headers: restHeaders },
      ),
    opts,
  );
  const restGateway = await measure(
    () =>
      fetch(`${state.apiUrl}/rest/v1/saved_views?select=id,name`, {
        headers: restHeaders,
      }),
    opts,
  );
  const fnDirect = await measure(
    () =>
      fetch(`http://127.0.0.1:${health.port}/health`, {
        headers: { "x-forwarded-for": "127.0.0.1" },
      }),
    opts,
  );
  const fnGateway = await measure(
    () => fetch(`${state.apiUrl}/functions/v1/health`),
    opts,
  );

  report("PostgREST direct (baseline)", restDirect);
  report("PostgREST through gateway /rest/v1", restGateway);
  report("health function direct (baseline)", fnDirect);
  report("health through gateway /functions/v1", fnGateway);
  console.log(
    `\nratio rest: gateway/direct = ${
      (restGateway.rps / restDirect.rps).toFixed(2)
    }x` +
      `\nratio functions: gateway/direct = ${
        (fnGateway.rps / fnDirect.rps).toFixed(2)
      }x`,
  );
}
