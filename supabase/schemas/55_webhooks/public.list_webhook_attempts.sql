-- Attempts of a delivery or an endpoint, newest first, in keyset pages (pass
-- the last row's attempted_at and id). Runs as the caller: RLS applies.
create or replace function public.list_webhook_attempts(
  p_org_id uuid,
  p_delivery_id uuid default null,
  p_endpoint_id uuid default null,
  p_before_attempted_at timestamptz default null,
  p_before_id uuid default null,
  p_limit int default 50
)
returns setof public.webhook_attempts
language sql
stable
set search_path = ''
as $$
  select a.* from public.webhook_attempts a
  where a.org_id = p_org_id
    and (p_delivery_id is null or a.delivery_id = p_delivery_id)
    and (p_endpoint_id is null or a.endpoint_id = p_endpoint_id)
    and (p_before_attempted_at is null
         or (a.attempted_at, a.id) < (p_before_attempted_at, coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff')))
  order by a.attempted_at desc, a.id desc
  limit least(greatest(coalesce(p_limit, 50), 1), 500)
$$;

comment on function public.list_webhook_attempts(uuid, uuid, uuid, timestamptz, uuid, int) is
  'Webhook attempts newest first, by delivery or endpoint, in keyset pages (at most 500); RLS applies.';

grant execute on function public.list_webhook_attempts(uuid, uuid, uuid, timestamptz, uuid, int)
  to authenticated, service_role;
