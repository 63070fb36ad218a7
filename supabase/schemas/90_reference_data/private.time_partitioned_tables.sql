-- The time-partitioned tables that private.maintain_time_partitions() keeps:
-- interval, how many partitions ahead, retention, and what runs before a drop.
insert into private.time_partitioned_tables (parent, partition_interval, premake, retention, retention_column, before_drop) values
  ('public.audit_log', '1 mon', 3, null, 'retention_until', 'private.checkpoint_audit_partition'),
  ('public.events', '1 day', 7, '2 years', null, null),
  ('private.ingested_messages', '1 day', 2, '2 days', null, null),
  -- Customers replay webhook events up to 90 days, as Svix keeps messages.
  ('public.webhook_events', '1 mon', 3, '90 days', null, null),
  -- Attempts are kept as long as the events they delivered.
  ('public.webhook_attempts', '1 mon', 3, '90 days', null, null)
on conflict (parent) do update set
  partition_interval = excluded.partition_interval,
  premake = excluded.premake,
  retention = excluded.retention,
  retention_column = excluded.retention_column,
  before_drop = excluded.before_drop;
