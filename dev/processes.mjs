// Starting, waiting for and stopping the stack's background processes.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";

export const isRoot = () => process.getuid?.() === 0;

/** Postgres refuses to run as root, so its tools run as the `postgres` OS user. */
export function asPostgresUser(cmd, args) {
  return isRoot()
    ? { cmd: "runuser", args: ["-u", "postgres", "--", cmd, ...args] }
    : { cmd, args };
}

/** Runs a command to completion; throws with its output when it fails. */
export function runChecked(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited with ${res.status}\n${res.stdout ?? ""}${
        res.stderr ?? ""
      }`,
    );
  }
  return res.stdout ?? "";
}

/** Spawns a long-running process in its own process group, logging to a file. */
export function spawnDetached(cmd, args, { env, cwd, logFile }) {
  const fd = openSync(logFile, "a");
  const child = spawn(cmd, args, {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  return child.pid;
}

export function isAlive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: no such process; that is the answer, not a failure.
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Stops a process group started by spawnDetached: SIGTERM, then SIGKILL. */
export async function stopGroup(pid, timeoutMs = 5000) {
  if (!isAlive(pid)) return;
  const signal = (sig) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch { /* already gone between the check and the signal */ }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) signal("SIGKILL");
}

export function portIsOpen(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function waitForPort(port, { timeoutMs = 60000, pid, what }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portIsOpen(port)) return;
    if (pid && !isAlive(pid)) {
      throw new Error(`${what} exited before listening on port ${port}`);
    }
    await sleep(100);
  }
  throw new Error(
    `${what} did not listen on port ${port} within ${timeoutMs} ms`,
  );
}

export async function waitForHttp(
  url,
  { timeoutMs = 60000, what, pid, logFile },
) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    // A process that died will not answer: say so now, with its last words.
    if (pid && !isAlive(pid)) {
      const tail = logFile && existsSync(logFile)
        ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n")
        : "";
      throw new Error(`${what} exited before it was ready at ${url}\n${tail}`);
    }
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(100);
  }
  throw new Error(
    `${what} not ready at ${url} within ${timeoutMs} ms (${last})`,
  );
}

/**
 * n distinct free TCP ports on loopback, none of them in `avoid`: all are held
 * open until every one is found, so none is handed out twice.
 */
export async function freePorts(n, avoid = []) {
  const servers = [];
  const ports = [];
  try {
    while (ports.length < n) {
      const server = createServer();
      servers.push(server);
      const port = await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve(server.address().port));
      });
      if (!avoid.includes(port)) ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((s) => new Promise((resolve) => s.close(() => resolve()))),
    );
  }
}

/** A free TCP port on loopback, for stacks that must not collide with others. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
