// Minimum versions of packages with known vulnerabilities below them, checked
// against every version the lock files resolve (direct or transitive): SAML
// signature checks are only as good as the XML libraries under node-saml.
//   xml-crypto < 6.0.1: CVE-2025-29774, CVE-2025-29775 (signature bypass by
//     a modified DigestValue or comments in it).
//   @xmldom/xmldom < 0.8.15: CVE-2024-32962 (it accepted several root
//     elements; the 0.8 line's later fixes too).
// `npm test` runs it; `node dev/lock_floors.mjs` alone prints what it found.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./config.mjs";

export const FLOORS = { "xml-crypto": "6.0.1", "@xmldom/xmldom": "0.8.15" };

const parts = (v) => v.split(/[.+-]/).slice(0, 3).map(Number);

export function below(version, floor) {
  const [a, b] = [parts(version), parts(floor)];
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** Every [lock file, package, version] the two lock files resolve. */
export function lockedVersions(root = ROOT) {
  const found = [];
  const deno = JSON.parse(readFileSync(join(root, "deno.lock"), "utf8"));
  for (const key of Object.keys(deno.npm ?? {})) {
    const at = key.lastIndexOf("@");
    found.push([
      "deno.lock",
      key.slice(0, at),
      key.slice(at + 1).split("_")[0],
    ]);
  }
  const npm = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  for (const [path, meta] of Object.entries(npm.packages ?? {})) {
    const name = path.split("node_modules/").at(-1);
    if (path && meta.version) {
      found.push(["package-lock.json", name, meta.version]);
    }
  }
  return found;
}

/** The locked versions under a floor, as messages; empty when all hold. */
export function lockFloorViolations(root = ROOT) {
  return lockedVersions(root)
    .filter(([, name, version]) => FLOORS[name] && below(version, FLOORS[name]))
    .map(([file, name, version]) =>
      `${file}: ${name}@${version} is below ${FLOORS[name]}`
    );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const locked = lockedVersions().filter(([, name]) => FLOORS[name]);
  for (const [file, name, version] of locked) {
    console.log(`${file}: ${name}@${version}`);
  }
  const violations = lockFloorViolations();
  for (const v of violations) console.error(v);
  process.exit(violations.length ? 1 : 0);
}
