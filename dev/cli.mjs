// Entry point of every npm script. It runs on a fresh clone before `npm install`,
// so it loads nothing outside Node's standard library until prerequisites are in.
import { ensureAptPackages, ensureNodeModules } from "./prerequisites.mjs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const USAGE = `usage: node dev/cli.mjs <command>
  dev        start the local stack (or reuse the running one) and print its keys
  stop       stop everything the local stack started
  status     print URLs and keys of the running stack
  db:reset   rebuild the database from migrations and seed, then start the stack
  db:stop    stop only Postgres (tests use it to see the API degrade)
  db:start   start Postgres again
  db:drift   fail unless supabase/migrations and supabase/schemas build the same database
  db:migration -- <name>  write the migration that brings the database to supabase/schemas
  token      mint a user session token: token -- --sub <uuid> [--email e] [--aal aal2]
  types      regenerate supabase/functions/_shared/database.types.ts
  test       run every check and test on a throwaway stack
  bench      run a benchmark: bench -- <name>`;

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (!command || command === "help" || command === "--help") {
    console.log(USAGE);
    return 0;
  }
  ensureAptPackages();
  ensureNodeModules(ROOT);
  const commands = await import("./commands.mjs");
  const handler = commands.COMMANDS[command];
  if (!handler) {
    console.error(`unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  return (await handler(args)) ?? 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
