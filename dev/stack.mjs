// Starts, stops and reports one local stack (the developer's or a test run's):
// Postgres -> platform layer -> migrations -> seed -> PostgREST -> functions -> gateway.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DB_PASSWORD, dbUrl, DENO, ROOT, stackPaths } from "./config.mjs";
import { prepareKeys } from "./keys.mjs";
import {
  clusterExists,
  clusterRunning,
  initCluster,
  migrate,
  psqlFile,
  startCluster,
  stopCluster,
} from "./postgres.mjs";
import { startPostgrest } from "./postgrest.mjs";
import {
  denoCacheArgs,
  discoverFunctions,
  startFunction,
} from "./edge_functions.mjs";
import {
  freePorts,
  isAlive,
  runChecked,
  spawnDetached,
  stopGroup,
  waitForHttp,
  waitForPort,
} from "./processes.mjs";

export function readState(dir) {
  const file = stackPaths(dir).state;
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
}

function writeState(paths, state) {
  writeFileSync(paths.state, JSON.stringify(state, null, 2), { mode: 0o600 });
}

export function stackIsRunning(state) {
  return Boolean(state && isAlive(state.pids?.gateway));
}

const log = (quiet, msg) => quiet || console.log(msg);

/** Starts Postgres (creating the cluster when new) and brings the schema up to date. */
export function startDatabase(opts, paths, { quiet } = {}) {
  const fresh = !clusterExists(paths);
  if (fresh) {
    log(quiet, "Creating a new Postgres cluster");
    initCluster(paths, { durable: opts.durable, password: DB_PASSWORD });
  }
  if (!clusterRunning(paths)) startCluster(paths, opts.dbPort);
  if (fresh) psqlFile(opts.dbPort, join(ROOT, "dev", "sql", "platform.sql"));
  log(quiet, "Applying migrations (supabase migration up)");
  const out = migrate(opts.dbPort);
  for (const line of out.split("\n")) {
    if (line.startsWith("Applying migration")) log(quiet, `  ${line}`);
  }
  if (fresh) {
    log(quiet, "Seeding (supabase/seed.sql)");
    psqlFile(opts.dbPort, join(ROOT, "supabase", "seed.sql"));
  }
  return fresh;
}

/**
 * Starts every part of a stack. opts: { name, dir, apiPort, dbPort, watch,
 * durable, quiet }. Internal ports are picked free at start.
 */
export async function startStack(opts) {
  const paths = stackPaths(opts.dir);
  mkdirSync(paths.logs, { recursive: true });
  const previous = readState(opts.dir);
  if (stackIsRunning(previous)) {
    // A second `npm run dev` reuses what runs and only applies new migrations.
    startDatabase({ ...opts, dbPort: previous.dbPort }, paths, opts);
    return { ...previous, reused: true };
  }
  if (previous) await stopStack(opts.dir, { quiet: true });

  const keys = await prepareKeys(paths.jwtDir);
  startDatabase(opts, paths, opts);

  const apiUrl = `http://127.0.0.1:${opts.apiPort}`;
  // Every internal port at once, all held open together so that no two are
  // the same: taken one at a time, a port PostgREST had not bound yet could be
  // handed out again to a function, and whichever started second died (seen
  // as "PostgREST not ready ... (fetch failed)" on a loaded machine).
  const functions = discoverFunctions();
  const [postgrestPort, postgrestAdminPort, ...functionPorts] = await freePorts(
    2 + functions.length,
    [opts.apiPort, opts.dbPort],
  );
  const state = {
    name: opts.name,
    dir: opts.dir,
    apiUrl,
    apiPort: opts.apiPort,
    dbPort: opts.dbPort,
    dbUrl: dbUrl(opts.dbPort),
    postgrestPort,
    postgrestAdminPort,
    keys: {
      alg: keys.alg,
      jwtSecret: keys.secret,
      signer: keys.signer,
      jwks: keys.jwks,
      anonKey: keys.anonKey,
      serviceRoleKey: keys.serviceRoleKey,
      ssoSigningJwk: keys.ssoSigningJwk,
      ssoEncryptionKey: keys.ssoEncryptionKey,
      samlSpKey: keys.samlSpKey,
      samlSpCert: keys.samlSpCert,
    },
    functions: [],
    pids: {},
  };
  // Written early so that `npm run stop` can clean up after a failed start.
  writeState(paths, state);

  state.pids.postgrest = startPostgrest({
    dbPort: opts.dbPort,
    port: state.postgrestPort,
    adminPort: state.postgrestAdminPort,
    jwksPath: keys.jwksPath,
    logFile: join(paths.logs, "postgrest.log"),
  });
  writeState(paths, state);

  log(
    opts.quiet,
    `Caching Deno dependencies for ${functions.length} function(s)`,
  );
  runChecked(DENO, denoCacheArgs(functions), { cwd: ROOT });
  for (const [i, fn] of functions.entries()) {
    const port = functionPorts[i];
    const pid = startFunction(fn, port, state, {
      watch: opts.watch,
      logFile: join(paths.logs, `function-${fn.name}.log`),
    });
    state.functions.push({ ...fn, port, pid });
    writeState(paths, state);
  }

  state.pids.gateway = spawnDetached(
    process.execPath,
    [join(ROOT, "dev", "gateway.mjs"), paths.state],
    { cwd: ROOT, env: process.env, logFile: join(paths.logs, "gateway.log") },
  );
  writeState(paths, state);

  await waitForHttp(`http://127.0.0.1:${state.postgrestAdminPort}/ready`, {
    what: "PostgREST",
    pid: state.pids.postgrest,
    logFile: join(paths.logs, "postgrest.log"),
  });
  for (const fn of state.functions) {
    await waitForPort(fn.port, { pid: fn.pid, what: `function ${fn.name}` });
  }
  await waitForPort(state.apiPort, {
    pid: state.pids.gateway,
    what: "gateway",
  });
  // Plays pg_cron + pg_net's part for webhook delivery (see the file).
  state.pids.webhookScheduler = spawnDetached(
    process.execPath,
    [join(ROOT, "dev", "webhook_scheduler.mjs"), paths.state],
    {
      cwd: ROOT,
      env: process.env,
      logFile: join(paths.logs, "webhook-scheduler.log"),
    },
  );
  writeState(paths, state);
  return state;
}

/** Stops everything recorded in the stack's pid file, then Postgres. */
export async function stopStack(dir, { quiet } = {}) {
  const paths = stackPaths(dir);
  const state = readState(dir);
  if (state) {
    await stopGroup(state.pids?.webhookScheduler);
    await stopGroup(state.pids?.gateway);
    for (const fn of state.functions ?? []) await stopGroup(fn.pid);
    await stopGroup(state.pids?.postgrest);
  }
  stopCluster(paths);
  if (state) rmSync(paths.state, { force: true });
  log(quiet, `Stopped the ${state?.name ?? "local"} stack`);
}

export function statusText(state) {
  const rows = [
    ["API URL", state.apiUrl],
    ["REST URL", `${state.apiUrl}/rest/v1`],
    ["Functions URL", `${state.apiUrl}/functions/v1`],
    ["DB URL", state.dbUrl],
    ["JWT algorithm", state.keys.alg],
    ["JWT secret", state.keys.jwtSecret],
    ["anon key", state.keys.anonKey],
    ["service_role key", state.keys.serviceRoleKey],
    // Local-only keys created by supabase/seed.sql (known to everyone).
    ["demo write key", "wk_test_LocalDemoWriteKeyForAcme00000"],
    ["demo secret key", "mk_test_LocalDemoKeyForAcmeOnly0000000"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padStart(width)}: ${v}`).join("\n");
}

/**
 * Runs fn(state) against a stack of its own (free ports, a temporary directory),
 * then stops and deletes it: for tests and benchmarks, never the developer's.
 */
export async function withThrowawayStack(prefix, { durable }, fn) {
  const dir = mkdtempSync(join(tmpdir(), `meridian-${prefix}-`));
  // The postgres OS user must reach its data directory inside.
  chmodSync(dir, 0o755);
  try {
    const [apiPort, dbPort] = await freePorts(2);
    const state = await startStack({
      name: prefix,
      dir,
      apiPort,
      dbPort,
      watch: false,
      durable,
      quiet: true,
    });
    return await fn(state);
  } finally {
    await stopStack(dir, { quiet: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
