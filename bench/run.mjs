// `npm run bench -- <name>`: runs bench/<name>.mjs against a throwaway stack
// (free ports, temp dir, never the developer's) and prints its figures.
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../dev/processes.mjs";
import { startStack, stopStack } from "../dev/stack.mjs";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

function available() {
  return readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".mjs") && !["run.mjs", "load.mjs"].includes(f))
    .map((f) => f.replace(/\.mjs$/, ""));
}

export async function runBenchmark(args) {
  const name = args[0];
  if (!name || !existsSync(join(BENCH_DIR, `${name}.mjs`))) {
    console.error(
      `usage: npm run bench -- <name>; one of: ${available().join(", ")}`,
    );
    return 2;
  }
  const bench = await import(join(BENCH_DIR, `${name}.mjs`));
  const dir = mkdtempSync(join(tmpdir(), "meridian-bench-"));
  chmodSync(dir, 0o755);
  try {
    const state = await startStack({
      name: "bench",
      dir,
      apiPort: await freePort(),
      dbPort: await freePort(),
      watch: false,
      // Benchmarks measure the durable configuration a deployment runs.
      durable: true,
      quiet: true,
    });
    await bench.run(state, args.slice(1));
    return 0;
  } finally {
    await stopStack(dir, { quiet: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
