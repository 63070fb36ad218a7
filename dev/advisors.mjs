// Supabase's Security and Performance Advisors (the splinter lints an admin sees
// in the dashboard), run by the pinned CLI against a database: `npm test`
// fails on any WARN or ERROR but the reviewed exceptions below, and prints the
// INFO findings.
import { dbUrl, ROOT, SUPABASE_CLI } from "./config.mjs";
import { runChecked } from "./processes.mjs";

// Lint 0011 (function_search_path_mutable) asks every function to pin
// search_path. These are the SQL helpers that must not: a SET clause keeps
// Postgres from inlining a SQL function into the query that calls it, and
// each is inlined on purpose, into ingestion's per-row statements, a stored
// generated column, a column default or an index-using WHERE clause
// (audit_row_matches keeps the search index usable only when inlined). Non-
// inlined, an SQL function with SET is planned again on every call: uuid_v7
// went from 5.9 to 1.9 us an id when its SET went (bench/README.md). Each names
// only pg_catalog objects, or objects qualified with their schema, so no
// caller's search_path can redirect it; each lives in `private`, out of the
// API's reach. Measured with all 19 pinned (2026-12-08, bench/README.md):
// ingest_batch 1.64x the CPU per batch, check_rate_limit 4.7x, admit_write_key
// 2.2x, and audit search 5-260x (the search GIN index is no longer usable).
export const INLINED_HELPERS = new Set([
  "private.add_event_counts",
  "private.audit_row_matches",
  "private.decayed_engagement",
  "private.engagement_score",
  "private.engagement_weight",
  "private.identifier_priority",
  "private.is_blocked_identifier",
  "private.last_seen_bucket",
  "private.lifecycle_stage_of",
  "private.name_from_traits",
  "private.normalize_identifier",
  "private.sliding_window_current",
  "private.sliding_window_fits",
  "private.sliding_window_previous",
  "private.sliding_window_retry_after_ms",
  "private.sliding_window_weighted",
  "private.subtract_event_counts",
  "private.text_array_to_string",
  "private.uuid_v7",
]);

function isReviewedException(finding) {
  const m = finding.metadata ?? {};
  // The pgTAP harness's helpers (dev/sql/test_helpers.sql), never deployed.
  if (m.schema === "tests") return true;
  return finding.name === "function_search_path_mutable" &&
    INLINED_HELPERS.has(`${m.schema}.${m.name}`);
}

/** The advisors' findings for the database on port. */
export function advisorFindings(port) {
  const out = runChecked(SUPABASE_CLI, [
    "db",
    "advisors",
    "--type",
    "all",
    "--level",
    "info",
    `--remote=${dbUrl(port)}`,
    "--workdir",
    ROOT,
    "--output-format",
    "json",
  ], { env: { ...process.env, PGSSLMODE: "disable" } });
  return JSON.parse(out).results ?? [];
}

// In a database just built, every index is unused; that finding says nothing
// about the schema.
const NOT_ABOUT_THE_SCHEMA = new Set(["unused_index"]);

/** Prints the findings; true when no WARN or ERROR is left unexplained. */
export function checkAdvisors(port) {
  const findings = advisorFindings(port);
  const failing = findings.filter((f) =>
    f.level !== "INFO" && !isReviewedException(f)
  );
  const info = findings.filter((f) =>
    f.level === "INFO" && !NOT_ABOUT_THE_SCHEMA.has(f.name)
  );
  const excepted = findings.filter(isReviewedException).length;
  for (const f of failing) {
    console.error(`${f.level} ${f.name}: ${f.detail.replaceAll("`", "")}`);
  }
  for (const f of info) {
    console.log(`INFO ${f.name}: ${f.detail.replaceAll("`", "")}`);
  }
  console.log(
    `${failing.length} warning(s) or error(s); ${excepted} reviewed exception(s) (dev/advisors.mjs); ${info.length} info finding(s) about the schema`,
  );
  return failing.length === 0;
}
