select cron.schedule(
  'meridian-maintain-time-partitions',
  '17 * * * *',
  'select private.maintain_time_partitions()'
);
