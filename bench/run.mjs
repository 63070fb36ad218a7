// `npm run bench -- <name>`: runs bench/<name>.mjs against a throwaway stack
// (free ports, temp dir, never the developer's) and prints its figures.
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { withThrowawayStack } from "../dev/stack.mjs";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

function available() {
  return readdirSync(BENCH_DIR)
    .filter((f) =>
      f.endsWith(".mjs") &&
      ![
        "run.mjs",
        "load.mjs",
        "fixtures.mjs",
        "server_work.mjs",
        "cpu_by_process.mjs",
        "perf_profile.mjs",
        "wal.mjs",
      ].includes(f)
    )
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
  // Benchmarks measure the durable configuration a deployment runs.
  await withThrowawayStack(
    "bench",
    { durable: true },
    (state) => bench.run(state, args.slice(1)),
  );
  return 0;
}
