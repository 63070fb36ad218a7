// Installs what a fresh clone is missing before any other module loads.
// Only Node's standard library may be imported here: this file runs before `npm ci`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Debian packages the local stack needs on top of postgresql-15. */
export const APT_PACKAGES = [
  "postgresql-15",
  "postgresql-15-cron",
  "postgresql-15-pgtap",
  "postgresql-15-plpgsql-check",
  "libtap-parser-sourcehandler-pgtap-perl",
  // Tests of the Upstash rate-limit path run @upstash/ratelimit on real Redis.
  "redis-server",
  // Segment's browser SDK is tested in a real browser (tests/support/browser_page.mjs).
  "chromium",
  // The SAML SP's certificate (dev/keys.mjs) and the test IdP's are made with it.
  "openssl",
];

function isInstalled(pkg) {
  const out = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], {
    encoding: "utf8",
  });
  return out.status === 0 && out.stdout.includes("install ok installed");
}

export function missingAptPackages(packages = APT_PACKAGES) {
  return packages.filter((pkg) => !isInstalled(pkg));
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${res.status}`);
  }
}

/** Installs missing Debian packages when root; otherwise says exactly what to run. */
export function ensureAptPackages(packages = APT_PACKAGES) {
  const missing = missingAptPackages(packages);
  if (missing.length === 0) return;
  const command =
    `apt-get update && apt-get install -y --no-install-recommends ${
      missing.join(" ")
    }`;
  if (process.getuid?.() !== 0) {
    console.error(
      `Missing Debian packages: ${missing.join(", ")}.\n` +
        `Run as root:\n  sudo sh -c '${command}'\nthen run this command again.`,
    );
    process.exit(1);
  }
  console.log(`Installing Debian packages: ${missing.join(", ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update"], { env });
  run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], {
    env,
  });
}

/** Runs `npm ci` when a dependency in package.json is not in node_modules. */
export function ensureNodeModules(root) {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const deps = Object.keys({
    ...pkg.dependencies,
    ...pkg.devDependencies,
  });
  const missing = deps.filter((dep) =>
    !existsSync(join(root, "node_modules", dep, "package.json"))
  );
  if (missing.length === 0) return;
  console.log(`Installing npm dependencies (missing: ${missing.join(", ")})`);
  const hasLock = existsSync(join(root, "package-lock.json"));
  execFileSync("npm", [hasLock ? "ci" : "install", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
  });
}
