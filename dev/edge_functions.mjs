// Serves supabase/functions/<name>/index.ts with Deno, one process per function
// as Supabase's Edge Runtime isolates them, restarted by `deno --watch` on change.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { DENO, ROOT } from "./config.mjs";
import { spawnDetached } from "./processes.mjs";

export const FUNCTIONS_DIR = join(ROOT, "supabase", "functions");

/** Functions on disk with their `verify_jwt` from supabase/config.toml (default true, as the CLI). */
export function discoverFunctions() {
  const config = parse(
    readFileSync(join(ROOT, "supabase", "config.toml"), "utf8"),
  );
  return readdirSync(FUNCTIONS_DIR, { withFileTypes: true })
    .filter((d) =>
      d.isDirectory() && !d.name.startsWith("_") &&
      existsSync(join(FUNCTIONS_DIR, d.name, "index.ts"))
    )
    .map((d) => ({
      name: d.name,
      verifyJwt: config.functions?.[d.name]?.verify_jwt ?? true,
    }));
}

// The secrets a hosted project injects into every function.
function functionEnv(stack) {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DENO_DIR: process.env.DENO_DIR,
    NO_COLOR: "1",
    SUPABASE_URL: stack.apiUrl,
    SUPABASE_ANON_KEY: stack.keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: stack.keys.serviceRoleKey,
    SUPABASE_DB_URL: stack.dbUrl,
    // Hosted projects inject the public JWK set; legacy HS256 projects set the
    // secret themselves (supabase secrets set MERIDIAN_LEGACY_JWT_SECRET=...).
    SUPABASE_JWKS: JSON.stringify({
      keys: stack.keys.jwks.keys.filter((k) => k.kty !== "oct"),
    }),
    MERIDIAN_LEGACY_JWT_SECRET: stack.keys.jwtSecret,
    // The private key the sso function signs session tokens with (a function
    // secret on a hosted project: supabase secrets set MERIDIAN_SSO_SIGNING_JWK=...).
    MERIDIAN_SSO_SIGNING_JWK: stack.keys.ssoSigningJwk
      ? JSON.stringify(stack.keys.ssoSigningJwk)
      : undefined,
    MERIDIAN_SSO_ENCRYPTION_KEY: stack.keys.ssoEncryptionKey,
    // The SAML SP's signing key and certificate (function secrets on a hosted
    // project: supabase secrets set MERIDIAN_SSO_SAML_SP_KEY=... _CERT=...).
    MERIDIAN_SSO_SAML_SP_KEY: stack.keys.samlSpKey,
    MERIDIAN_SSO_SAML_SP_CERT: stack.keys.samlSpCert,
  };
  const envFile = join(FUNCTIONS_DIR, ".env");
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, "utf8").split("\n")) {
      const m = line.match(/^\s*([A-Z0-9_]+)\s*=\s*(.*)\s*$/i);
      if (m) env[m[1]] = m[2].replace(/^(['"])(.*)\1$/, "$2");
    }
  }
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** Downloads and type-checks every function's dependencies once, before serving. */
export function denoCacheArgs(functions) {
  return [
    "cache",
    "--config",
    join(ROOT, "deno.json"),
    ...functions.map((f) => join(FUNCTIONS_DIR, f.name, "index.ts")),
  ];
}

export function startFunction(fn, port, stack, { watch, logFile, env = {} }) {
  const args = [
    "run",
    ...(watch ? ["--watch"] : []),
    "--no-prompt",
    "--config",
    join(ROOT, "deno.json"),
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-sys",
    join(FUNCTIONS_DIR, fn.name, "index.ts"),
  ];
  return spawnDetached(DENO, args, {
    cwd: ROOT,
    logFile,
    env: {
      ...functionEnv(stack),
      // Deno.serve() with no options listens here, so index.ts stays a plain
      // Deno.serve handler, exactly as deployed.
      DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`,
      ...env,
    },
  });
}
