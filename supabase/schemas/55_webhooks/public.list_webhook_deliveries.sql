-- An endpoint's or organization's deliveries, newest first, filtered by status
-- and type, in keyset pages: pass the last row's created_at and id as
-- p_before_created_at and p_before_id for the next page. Runs as the caller,
-- so the table's RLS decides what is seen (webhooks:read).
create or replace function public.list_webhook_deliveries(
  p_org_id uuid,
  p_endpoint_id uuid default null,
  p_status text default null,
  p_event_type text default null,
  p_before_created_at timestamptz default null,
  p_before_id uuid default null,
  p_limit int default 50
)
returns setof public.webhook_deliveries
language sql
stable
set search_path = ''
as $$
  select d.* from public.webhook_deliveries d
  where d.org_id = p_org_id
    and (p_endpoint_id is null or d.endpoint_id = p_endpoint_id)
    and (p_status is null or d.status = p_status)
    and (p_event_type is null or d.event_type = p_event_type)
    and (p_before_created_at is null
         or (d.created_at, d.id) < (p_before_created_at, coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff')))
  order by d.created_at desc, d.id desc
  limit least(greatest(coalesce(p_limit, 50), 1), 500)
$$;

comment on function public.list_webhook_deliveries(uuid, uuid, text, text, timestamptz, uuid, int) is
  'Webhook deliveries newest first, by endpoint, status and type, in keyset pages (at most 500); RLS applies.';

grant execute on function public.list_webhook_deliveries(uuid, uuid, text, text, timestamptz, uuid, int)
  to authenticated, service_role;
