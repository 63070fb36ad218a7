-- Deletes settled deliveries (succeeded or dead) older than 90 days, as
-- retention drops the events and attempts they belong to; at most 10,000 a
-- run, so a backlog never holds one long transaction. Daily by pg_cron.
create or replace function private.sweep_webhook_deliveries()
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deleted int;
begin
  delete from public.webhook_deliveries d
  where (d.org_id, d.id) in (
    select x.org_id, x.id from public.webhook_deliveries x
    where x.finished_at < now() - interval '90 days'
    limit 10000);
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$$;

comment on function private.sweep_webhook_deliveries() is
  'Deletes settled webhook deliveries older than 90 days, 10,000 a run; daily by pg_cron.';
