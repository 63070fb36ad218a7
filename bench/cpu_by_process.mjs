// Where a phase's CPU went, by process: Postgres, the edge functions, the
// gateway, this load client, and everything else on the machine. On two
// shared cores throughput is bound by the sum of them, so the CPU each
// request costs, and who spends it, says more about a run's ceiling than the
// throughput alone (which moves with the machine's other tenants).
// Linux only (/proc); elsewhere the line says it is not available.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

// Linux reports process times in USER_HZ ticks, 100 a second on every
// architecture Node runs on.
const TICKS_PER_SECOND = 100;

const CLASSES = [
  ["Postgres", (cmd) => /^postgres(:|\0| |$)|\/bin\/postgres\0/.test(cmd)],
  ["functions", (cmd) => cmd.includes("supabase/functions/")],
  ["gateway", (cmd) => cmd.includes("gateway.mjs")],
  ["PostgREST", (cmd) => cmd.includes("postgrest")],
];

function processTimes(postmasterPid) {
  // pid -> [class, ticks]: compared pid by pid, so that a process of the
  // class that exits during the phase (another stack's, on a shared machine)
  // takes nothing off the class's figure.
  const byPid = new Map();
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
    // Another cluster's Postgres (another stack on a shared machine) is one
    // of the other processes, not this stack's Postgres.
    if (
      cls[0] === "Postgres" && postmasterPid &&
      pid !== postmasterPid && fields[1] !== postmasterPid
    ) continue;
    byPid.set(pid, [cls[0], Number(fields[11]) + Number(fields[12])]); // utime, stime
  }
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/)
    .slice(1, 9).map(Number);
  const idle = cpu[3] + cpu[4]; // idle, iowait
  const total = cpu.reduce((a, b) => a + b, 0);
  return { byPid, busy: total - idle, cores: cpuCores() };
}

function cpuCores() {
  return readFileSync("/proc/stat", "utf8").split("\n")
    .filter((line) => /^cpu\d+ /.test(line)).length;
}

/**
 * Snapshots CPU use; `describe(batches, eventsPerBatch)` reports the CPU each
 * batch cost since, by process, and the throughput that cost allows with
 * every core busy. Processes that exit within the phase are missed.
 */
export function watchCpu({ dataDir } = {}) {
  let before;
  let clientBefore;
  let postmasterPid;
  try {
    // With the stack's data directory, only its own cluster counts as Postgres.
    postmasterPid = dataDir
      ? readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]
        .trim()
      : undefined;
  } catch {
    postmasterPid = undefined; // unreadable: every Postgres on the machine
  }
  try {
    before = processTimes(postmasterPid);
    clientBefore = process.cpuUsage();
  } catch {
    return { describe: () => "CPU per batch: not available (no /proc)" };
  }
  return {
    describe(batches, eventsPerBatch) {
      const after = processTimes(postmasterPid);
      const client = process.cpuUsage(clientBefore);
      const msPerBatch = (ticks) => ticks * 1000 / TICKS_PER_SECOND / batches;
      // Processes started during the phase count whole; those that exited
      // during it are missed (their time falls to "the rest").
      const byClass = Object.fromEntries(CLASSES.map(([name]) => [name, 0]));
      for (const [pid, [cls, ticks]] of after.byPid) {
        const earlier = before.byPid.get(pid);
        byClass[cls] += ticks - (earlier?.[0] === cls ? earlier[1] : 0);
      }
      const parts = CLASSES.map(([name]) => [name, msPerBatch(byClass[name])]);
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
