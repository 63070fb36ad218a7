-- A trait's timestamp and a touch's time as profiles store them.
create or replace function private.trait_stamp(p_at timestamptz)
returns text
language sql
stable -- to_char is
set search_path = ''
as $$
  select pg_catalog.to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

comment on function private.trait_stamp(timestamptz) is
  'A time as trait_timestamps and touches store it (ISO 8601, UTC, microseconds): such strings sort in time order.';
