-- Hourly: make time partitions ahead and drop expired ones.
select cron.schedule(
  'meridian-maintain-time-partitions',
  '17 * * * *',
  'select private.maintain_time_partitions()'
);
