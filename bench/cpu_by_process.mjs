// Where a phase's CPU went, by process: Postgres, the edge functions, the
// gateway, this load client, and everything else on the machine. On two
// shared cores throughput is bound by the sum of them, so the CPU each
// request costs, and who spends it, says more about a run's ceiling than the
// throughput alone (which moves with the machine's other tenants).
// Linux only (/proc); elsewhere the line says it is not available.
import { readdirSync, readFileSync } from "node:fs";

// Linux reports process times in USER_HZ ticks, 100 a second on every
// architecture Node runs on.
const TICKS_PER_SECOND = 100;

const CLASSES = [
  ["Postgres", (cmd) => /^postgres(:|\0| |$)|\/bin\/postgres\0/.test(cmd)],
  ["functions", (cmd) => cmd.includes("supabase/functions/")],
  ["gateway", (cmd) => cmd.includes("gateway.mjs")],
  ["PostgREST", (cmd) => cmd.includes("postgrest")],
];

function processTimes() {
  const byClass = Object.fromEntries(CLASSES.map(([name]) => [name, 0]));
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue; // counted by process.cpuUsage
    let cmd;
    let stat;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited between the listing and the read
    }
    const cls = CLASSES.find(([, test]) => test(cmd));
    if (!cls) continue;
    // Fields after the command name, which may itself hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    byClass[cls[0]] += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/)
    .slice(1, 9).map(Number);
  const idle = cpu[3] + cpu[4]; // idle, iowait
  const total = cpu.reduce((a, b) => a + b, 0);
  return { byClass, busy: total - idle, cores: cpuCores() };
}

function cpuCores() {
  return readFileSync("/proc/stat", "utf8").split("\n")
    .filter((line) => /^cpu\d+ /.test(line)).length;
}

/**
 * Snapshots CPU use; `describe(batches, eventsPerBatch)` reports the CPU each
 * batch cost since, by process, and the throughput that cost allows with
 * every core busy. Processes that start and exit within the phase are missed.
 */
export function watchCpu() {
  let before;
  let clientBefore;
  try {
    before = processTimes();
    clientBefore = process.cpuUsage();
  } catch {
    return { describe: () => "CPU per batch: not available (no /proc)" };
  }
  return {
    describe(batches, eventsPerBatch) {
      const after = processTimes();
      const client = process.cpuUsage(clientBefore);
      const msPerBatch = (ticks) => ticks * 1000 / TICKS_PER_SECOND / batches;
      const parts = CLASSES.map(([name]) => [
        name,
        msPerBatch(after.byClass[name] - before.byClass[name]),
      ]);
      parts.push([
        "load client",
        (client.user + client.system) / 1000 / batches,
      ]);
      const busy = msPerBatch(after.busy - before.busy);
      const named = parts.reduce((sum, [, ms]) => sum + ms, 0);
      parts.push([
        "the rest (kernel, other processes)",
        Math.max(busy - named, 0),
      ]);
      const ceiling = after.cores * 1000 / busy * eventsPerBatch;
      return `CPU per batch: ${
        parts.map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`).join(", ")
      }; ${busy.toFixed(1)} ms in all, so ${after.cores} busy cores allow ${
        ceiling.toFixed(0)
      } events/s`;
    },
  };
}
