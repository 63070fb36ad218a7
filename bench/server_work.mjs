// What Postgres did besides the measured requests while a phase ran. Runs of
// one benchmark on this machine differ by 10-20%, and much of it is work the
// clients never asked for, which lands in some runs and not others: a
// checkpoint (after which every page's first change is written to WAL whole),
// or autovacuum of the tables the phase updates. Printed beside the figures,
// it tells a run that met such work from one that did not. The share of
// profile updates that were HOT (no index entries written, the new version on
// the old one's page) says whether the table's free space kept up.

/**
 * Snapshots the server's counters; `describe(events)` reports the change since,
 * naming autovacuum runs on `tables` (daily partitions count as their table).
 */
export async function watchServerWork(sql, tables) {
  const before = await counters(sql);
  return {
    async describe(events) {
      const after = await counters(sql);
      const vacuumed = Object.keys(after.vacuums)
        .filter((table) =>
          tables.includes(table) &&
          after.vacuums[table] > (before.vacuums[table] ?? 0)
        );
      const unfinished = after.running.filter((t) => tables.includes(t));
      const running = unfinished.length
        ? ` (${unfinished.join(", ")} still running)`
        : "";
      const checkpoints = after.checkpoints - before.checkpoints;
      const walPerEvent = (after.walBytes - before.walBytes) / events / 1024;
      const pagesPer1k = (after.fullPages - before.fullPages) / events * 1000;
      const updates = after.profileUpdates - before.profileUpdates;
      const hot = after.profileHotUpdates - before.profileHotUpdates;
      return `meanwhile: ${checkpoints} checkpoint${
        checkpoints === 1 ? "" : "s"
      }; autovacuum of ${vacuumed.join(", ") || "nothing"}${running}; WAL ${
        walPerEvent.toFixed(2)
      } kB an event, ${
        pagesPer1k.toFixed(0)
      } full-page images per 1,000 events; ${
        updates ? `${(hot / updates * 100).toFixed(0)}%` : "no"
      } profile updates HOT`;
    },
  };
}

async function counters(sql) {
  const [row] = await sql`
    select w.wal_bytes::float8 as wal_bytes, w.wal_fpi::float8 as full_pages,
           (b.checkpoints_timed + b.checkpoints_req)::int as checkpoints,
           (select coalesce(jsonb_object_agg(t.name, t.n), '{}') from (
              -- daily partitions count under their table's name
              select regexp_replace(relname, '_p[0-9]{4}_[0-9]{2}_[0-9]{2}$', '') as name,
                     sum(autovacuum_count)::int as n
              from pg_stat_user_tables group by 1) t) as vacuums,
           array(select regexp_replace(p.relid::regclass::text, '^.*[.]|_p[0-9]{4}_[0-9]{2}_[0-9]{2}$', '', 'g')
                 from pg_stat_progress_vacuum p) as running,
           p.n_tup_upd::float8 as profile_updates, p.n_tup_hot_upd::float8 as profile_hot_updates
    from pg_stat_wal w, pg_stat_bgwriter b, pg_stat_user_tables p
    where p.relid = 'public.profiles'::regclass`;
  return {
    walBytes: row.wal_bytes,
    fullPages: row.full_pages,
    checkpoints: row.checkpoints,
    vacuums: row.vacuums,
    running: row.running,
    profileUpdates: row.profile_updates,
    profileHotUpdates: row.profile_hot_updates,
  };
}
