-- Partitions live in their own schema: PostgREST never exposes them, generated
-- types stay clean, and reads go through the parent, whose RLS applies.
create schema if not exists partitions;

comment on schema partitions is
  'Partitions of time-partitioned tables. Query the parent table, never these.';

revoke all on schema partitions from public;
