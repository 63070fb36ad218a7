// An optional profile of the whole machine while a phase runs, for finding
// where its CPU goes: `perf record` sampling every process on a timer
// (cpu-clock, as this machine exposes no hardware counters), with call
// graphs. ingest_instructions counts a single-user backend's instructions,
// which is steady but leaves out the kernel (WAL and relation writes, page
// faults, loopback networking), waits on locks, cache misses and every other
// process; this shows them, at the price of run-to-run noise.
// Set MERIDIAN_PERF_DIR to a directory; each phase writes <label>.perf.data
// there, to read with `perf report -i <file> --sort comm,dso` (needs perf,
// Debian package linux-perf; the edge functions' JavaScript is named only if
// Deno writes a perf map).
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

/** Starts a profile if MERIDIAN_PERF_DIR is set; `stop()` ends it (a no-op otherwise). */
export function startPerfProfile(label) {
  const dir = process.env.MERIDIAN_PERF_DIR;
  if (!dir) return { stop: async () => {} };
  if (spawnSync("perf", ["--version"]).status !== 0) {
    throw new Error("MERIDIAN_PERF_DIR is set, but perf is not installed");
  }
  const file = join(dir, `${label}.perf.data`);
  const perf = spawn("perf", [
    "record",
    "--all-cpus",
    "--call-graph=fp",
    "--event=cpu-clock",
    "--freq=499",
    `--output=${file}`,
  ], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise((resolve) => perf.on("exit", resolve));
  return {
    async stop() {
      perf.kill("SIGINT"); // perf writes its file, and says where, on SIGINT
      await exited;
    },
  };
}
