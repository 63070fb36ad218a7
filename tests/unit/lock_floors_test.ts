// The lock-file floor check (dev/lock_floors.mjs) finds a vulnerable XML
// library in either lock file, transitive ones included, and passes the
// project's own lock files.
import assert from "node:assert/strict";
import { lockFloorViolations } from "../../dev/lock_floors.mjs";

async function lockFiles(deno: object, npm: object) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/deno.lock`, JSON.stringify(deno));
  await Deno.writeTextFile(`${dir}/package-lock.json`, JSON.stringify(npm));
  return dir;
}

Deno.test("the project's lock files hold no xml-crypto or xmldom below the floors", () => {
  assert.deepEqual(lockFloorViolations(), []);
});

Deno.test("an old xml-crypto in deno.lock and an old xmldom deep in package-lock.json are found", async () => {
  const dir = await lockFiles(
    { npm: { "xml-crypto@6.0.0": {}, "@xmldom/xmldom@0.9.2": {} } },
    {
      packages: {
        "": { name: "x" },
        "node_modules/a/node_modules/@xmldom/xmldom": { version: "0.8.10" },
        "node_modules/xml-crypto": { version: "6.1.2" },
      },
    },
  );
  try {
    assert.deepEqual(lockFloorViolations(dir), [
      "deno.lock: xml-crypto@6.0.0 is below 6.0.1",
      "package-lock.json: @xmldom/xmldom@0.8.10 is below 0.8.15",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
