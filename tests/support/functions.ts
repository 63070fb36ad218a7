// Serves one edge function in its own Deno process with extra environment (for
// example Upstash credentials), beside the stack's own, over real HTTP: how a
// test runs a configuration the shared stack does not.
import { stack } from "./stack.ts";

export type FunctionProcess = {
  /** Base URL; the function sees paths as /<name>/..., as behind the gateway. */
  url: string;
  /** What the process wrote to stderr so far (its logs). */
  logs(): string;
  stop(): Promise<void>;
};

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);

export async function startFunction(
  name: string,
  extraEnv: Record<string, string>,
): Promise<FunctionProcess> {
  const s = stack();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--config",
      `${ROOT}deno.json`,
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      `${ROOT}supabase/functions/${name}/index.ts`,
    ],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...(Deno.env.get("DENO_DIR")
        ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
        : {}),
      NO_COLOR: "1",
      SUPABASE_URL: s.apiUrl,
      SUPABASE_ANON_KEY: s.keys.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: s.keys.serviceRoleKey,
      SUPABASE_DB_URL: s.dbUrl,
      SUPABASE_JWKS: JSON.stringify({
        keys: s.keys.jwks.keys.filter((k) => k.kty !== "oct"),
      }),
      ...(s.keys.jwtSecret
        ? { MERIDIAN_LEGACY_JWT_SECRET: s.keys.jwtSecret }
        : {}),
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      ...extraEnv,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();

  let logs = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) logs += decoder.decode(chunk);
  })();

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await (await fetch(`${url}/${name}/`)).body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await reading;
        throw new Error(`function ${name} did not start:\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    logs: () => logs,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}
