create or replace function public.api_key_usage(p_org_id uuid, p_key_id uuid default null)
returns table (key_id uuid, name text, prefix text, usage_count bigint, last_used_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'api_keys:manage');
  return query
  select k.id, k.name, k.prefix,
         k.usage_count + coalesce(b.n, 0),
         greatest(k.last_used_at, b.last_used)
  from public.api_keys k
  left join (
    select u.key_id, count(*) as n, max(u.used_at) as last_used
    from private.api_key_usage_buffer u where u.org_id = p_org_id group by u.key_id
  ) b on b.key_id = k.id
  where k.org_id = p_org_id and (p_key_id is null or k.id = p_key_id)
  order by k.created_at desc;
end;
$$;

comment on function public.api_key_usage(uuid, uuid) is
  'Uses and last use of the organization''s keys, including those not yet flushed.';

grant execute on function public.api_key_usage(uuid, uuid) to authenticated, service_role;
