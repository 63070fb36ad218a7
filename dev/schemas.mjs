// Builds a database from supabase/schemas: every file in path order, each in a
// transaction of its own. A file whose dependencies are not there yet (a policy
// calling a function of a later folder, a foreign key to a later table) fails,
// is rolled back whole and retried on the next pass; passes go on until one
// makes no progress. Then the files still failing are reported with their
// errors. The folder numbers give the usual order; no list is kept by hand.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import postgres from "postgres";
import { ROOT } from "./config.mjs";

export const SCHEMAS_DIR = join(ROOT, "supabase", "schemas");

/** Every .sql file under supabase/schemas, in path order (folders by number). */
export function schemaFiles(dir = SCHEMAS_DIR) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".sql"))
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Applies the schema files to the database at url. Returns the number of
 * passes it took; throws naming every file that could not be applied.
 */
export async function loadSchemas(url, { dir = SCHEMAS_DIR } = {}) {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    // Function bodies are checked when they run (and by plpgsql_check in the
    // tests), not at creation: a body may name a table of a later folder.
    connection: {
      check_function_bodies: "off",
      client_min_messages: "warning",
    },
  });
  try {
    let pending = schemaFiles(dir).map((file) => ({
      file,
      text: readFileSync(join(dir, file), "utf8"),
      error: null,
    }));
    let passes = 0;
    while (pending.length > 0) {
      passes += 1;
      const failed = [];
      for (const entry of pending) {
        try {
          await sql.begin((tx) => tx.unsafe(entry.text));
        } catch (err) {
          entry.error = err;
          failed.push(entry);
        }
      }
      if (failed.length === pending.length) {
        const lines = failed.map((e) =>
          `  supabase/schemas/${e.file}: ${e.error.message}`
        );
        throw new Error(
          `${failed.length} schema file(s) could not be applied after ${passes} pass(es):\n${
            lines.join("\n")
          }`,
        );
      }
      pending = failed;
    }
    return passes;
  } finally {
    await sql.end();
  }
}
