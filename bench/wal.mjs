// WAL segment files as a database in service has them. A fresh cluster has
// one; each further 16 MB of WAL is a new file that Postgres fills with zeros
// and fsyncs inside a commit, holding the WAL write lock. A server past its
// first checkpoints renames used segments for reuse instead (min_wal_size ..
// max_wal_size of them) and creates none. A throughput bench on a fresh
// cluster would otherwise count file creation about once a second: 2.3% of
// Postgres's CPU in the ingest phase (MERIDIAN_PERF_DIR, `XLogFileInit`),
// which a database in service does not spend.

/**
 * Switches WAL segments until the cluster holds as many files as a checkpoint
 * cycle uses (max_wal_size / (1 + checkpoint_completion_target), what a
 * checkpoint keeps for reuse), then checkpoints so all of them are recycled.
 * Returns the number of segment files ready.
 */
export async function preallocateWal(sql) {
  const [s] = await sql`
    select pg_size_bytes(current_setting('max_wal_size')) as max_wal,
           pg_size_bytes(current_setting('wal_segment_size')) as segment,
           current_setting('checkpoint_completion_target')::float8 as target`;
  const wanted = Math.floor(
    Number(s.max_wal) / (1 + s.target) / Number(s.segment),
  );
  const files = async () =>
    (await sql`select count(*)::int as n from pg_ls_waldir()
               where name ~ '^[0-9A-F]{24}$'`)[0].n;
  for (let n = await files(); n < wanted; n++) {
    // A commit record, so the switch has something to close.
    await sql`select txid_current()`;
    await sql`select pg_switch_wal()`;
  }
  await sql`checkpoint`;
  return await files();
}
