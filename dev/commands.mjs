// What each `npm run <script>` does. Loaded by cli.mjs once dependencies exist.
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { devStackOptions, stackPaths } from "./config.mjs";
import { prepareKeys } from "./keys.mjs";
import { mintUserToken } from "./jwt.mjs";
import { clusterRunning, startCluster, stopCluster } from "./postgres.mjs";
import {
  readState,
  stackIsRunning,
  startStack,
  statusText,
  stopStack,
} from "./stack.mjs";
import { rmSync } from "node:fs";
import { generateTypes, TYPES_FILE } from "./types.mjs";

const DEMO_USER = "00000000-0000-4000-a000-00000000a11c"; // alice in seed.sql

function printStatus(state) {
  console.log(`\n${statusText(state)}\n`);
  console.log(
    `Try it:\n  curl ${state.apiUrl}/functions/v1/health\n` +
      `  npm run token -- --sub ${DEMO_USER} --email alice@meridian.local`,
  );
}

async function dev() {
  const started = Date.now();
  const state = await startStack(devStackOptions());
  console.log(
    state.reused
      ? "Local stack already running; reused it."
      : `Local stack started in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s.`,
  );
  printStatus(state);
}

async function stop() {
  await stopStack(devStackOptions().dir);
}

function status() {
  const state = readState(devStackOptions().dir);
  if (!stackIsRunning(state)) {
    console.error("The local stack is not running: npm run dev");
    return 1;
  }
  printStatus(state);
}

async function dbReset() {
  const opts = devStackOptions();
  await stopStack(opts.dir, { quiet: true });
  rmSync(stackPaths(opts.dir).data, { recursive: true, force: true });
  await dev();
}

function dbStop() {
  stopCluster(stackPaths(devStackOptions().dir));
}

function dbStart() {
  const opts = devStackOptions();
  const paths = stackPaths(opts.dir);
  const state = readState(opts.dir);
  if (!clusterRunning(paths)) startCluster(paths, state?.dbPort ?? opts.dbPort);
}

async function token(args) {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: "string" },
      email: { type: "string" },
      phone: { type: "string" },
      aal: { type: "string", default: "aal1" },
      "expires-in": { type: "string", default: "3600" },
      "app-metadata": { type: "string" },
      "user-metadata": { type: "string" },
    },
  });
  const uuid =
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  if (!values.sub || !uuid.test(values.sub)) {
    console.error("--sub <uuid> is required (the user's id in auth.users)");
    return 2;
  }
  if (!["aal1", "aal2"].includes(values.aal)) {
    console.error("--aal must be aal1 or aal2");
    return 2;
  }
  const state = readState(devStackOptions().dir);
  const signer = state?.keys.signer ??
    (await prepareKeys(stackPaths(devStackOptions().dir).jwtDir)).signer;
  console.log(
    await mintUserToken({
      sub: values.sub,
      email: values.email,
      phone: values.phone,
      aal: values.aal,
      expiresIn: Number(values["expires-in"]),
      appMetadata: values["app-metadata"] && JSON.parse(values["app-metadata"]),
      userMetadata: values["user-metadata"] &&
        JSON.parse(values["user-metadata"]),
      issuer: `${state?.apiUrl ?? "http://127.0.0.1:54321"}/auth/v1`,
    }, signer),
  );
}

function types() {
  const state = readState(devStackOptions().dir);
  if (!stackIsRunning(state)) {
    console.error("types are generated from the running stack: npm run dev");
    return 1;
  }
  const next = generateTypes(state.dbPort);
  const changed =
    readFileSync(TYPES_FILE, { encoding: "utf8", flag: "a+" }) !== next;
  writeFileSync(TYPES_FILE, next);
  console.log(`${changed ? "Updated" : "Unchanged"}: ${TYPES_FILE}`);
}

async function test(args) {
  const { runAllTests } = await import("./test_runner.mjs");
  return await runAllTests(args);
}

async function bench(args) {
  const { runBenchmark } = await import("../bench/run.mjs");
  return await runBenchmark(args);
}

async function dbDrift() {
  const { dbDrift } = await import("./schema_commands.mjs");
  return await dbDrift();
}

async function dbMigration(args) {
  const { dbMigration } = await import("./schema_commands.mjs");
  return await dbMigration(args);
}

export const COMMANDS = {
  dev,
  stop,
  status,
  "db:reset": dbReset,
  "db:stop": dbStop,
  "db:start": dbStart,
  "db:drift": dbDrift,
  "db:migration": dbMigration,
  token,
  types,
  test,
  bench,
};
