// Test infrastructure for the Upstash path: a real redis-server (Debian package)
// and, in front of it, an endpoint speaking Upstash's REST protocol, so that
// @upstash/redis and @upstash/ratelimit run unchanged and their Lua scripts run
// on real Redis. No maintained package provides this endpoint, so this is the
// small shim the rate-limit issue allows: test-only, never product.
//
// What Upstash does that Redis does not, and the shim therefore translates:
// - `Upstash-Encoding: base64`: string replies go back base64-encoded;
// - @upstash/ratelimit scripts start with `#!lua flags=allow-key-locking`, a
//   flag only Upstash knows: the shim strips that line, and maps the SHA of the
//   original script (what the client sends to EVALSHA) to the stripped one.
import { Redis } from "ioredis";

export type RedisServer = {
  port: number;
  stop(): Promise<void>;
};

export type UpstashShim = {
  url: string;
  token: string;
  close(): Promise<void>;
};

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(new Uint8Array(digest))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Starts redis-server without persistence, on `port` or a free one. */
export async function startRedis(port = freePort()): Promise<RedisServer> {
  const child = new Deno.Command("redis-server", {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 });
  probe.on(
    "error",
    () => {/* refused until the server listens: retried below */},
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`redis-server did not start: ${err}`);
      }
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  let stopped = false;
  return {
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill("SIGKILL");
      await child.status;
      await child.stderr.cancel();
    },
  };
}

const UPSTASH_ONLY_SHEBANG = /^#!lua[^\n]*\n/;

type Reply = string | number | null | Reply[];

function encodeBase64(reply: Reply): Reply {
  if (typeof reply === "string") {
    const bytes = new TextEncoder().encode(reply);
    return btoa(String.fromCharCode(...bytes));
  }
  if (Array.isArray(reply)) return reply.map(encodeBase64);
  return reply;
}

/** Serves Upstash's REST protocol (/, /pipeline, /multi-exec) over a real Redis. */
export function startUpstashShim(redisPort: number): UpstashShim {
  const token = crypto.randomUUID();
  // Fail at once while Redis is down (no offline queue, no retries), as a
  // hosted Upstash endpoint answers an error rather than hanging.
  const redis = new Redis({
    port: redisPort,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 200,
  });
  redis.on("error", () => {/* reconnects; commands fail meanwhile */});
  const scripts = new Map<string, string>(); // SHA sent by the client -> Redis's SHA

  async function run(command: unknown[]): Promise<Reply> {
    const [name, ...args] = command.map(String);
    const verb = name.toUpperCase();
    if (verb === "EVAL" || (verb === "SCRIPT" && /^load$/i.test(args[0]))) {
      const index = verb === "EVAL" ? 0 : 1;
      const original = args[index];
      const runnable = original.replace(UPSTASH_ONLY_SHEBANG, "");
      scripts.set(await sha1(original), await sha1(runnable));
      args[index] = runnable;
      if (verb === "SCRIPT") {
        await redis.call("SCRIPT", ...args);
        return await sha1(original);
      }
    } else if (verb === "EVALSHA") {
      args[0] = scripts.get(args[0]) ?? args[0];
    }
    return await redis.call(verb, ...args) as Reply;
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      if (req.headers.get("authorization") !== `Bearer ${token}`) {
        return Response.json({ error: "Unauthorized" }, { status: 401 });
      }
      const base64 = req.headers.get("upstash-encoding") === "base64";
      const encode = (r: Reply) => base64 ? encodeBase64(r) : r;
      const path = new URL(req.url).pathname;
      const body = await req.json();
      try {
        if (path === "/pipeline" || path === "/multi-exec") {
          const results = [];
          if (path === "/multi-exec") {
            const replies = await redis.multi(body as string[][]).exec();
            for (const [err, reply] of replies ?? []) {
              results.push(
                err
                  ? { error: err.message }
                  : { result: encode(reply as Reply) },
              );
            }
          } else {
            for (const command of body as unknown[][]) {
              try {
                results.push({ result: encode(await run(command)) });
              } catch (err) {
                results.push({ error: (err as Error).message });
              }
            }
          }
          return Response.json(results);
        }
        return Response.json({ result: encode(await run(body as unknown[])) });
      } catch (err) {
        return Response.json({ error: (err as Error).message }, {
          status: 400,
        });
      }
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    async close() {
      await server.shutdown();
      redis.disconnect();
    },
  };
}
