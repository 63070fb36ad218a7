create or replace function public.profile_journey(p_org_id uuid, p_profile_id uuid, p_limit int default 200)
returns table (
  occurred_at timestamptz, type text, event text, channel text, utm_source text,
  utm_medium text, utm_campaign text, page_url text, referrer text
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_id uuid;
  v_first timestamptz;
begin
  perform private.require_permission(p_org_id, 'customers:read');
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = '22023', detail = 'field: limit';
  end if;
  v_id := private.survivor_of(p_org_id, p_profile_id);
  select min(p.first_seen_at) into v_first from public.profiles p
  where p.org_id = p_org_id and p.id = any (private.profile_lineage(p_org_id, v_id));
  if v_first is null then
    raise exception 'profile not found' using errcode = 'PT404', detail = 'field: profile_id';
  end if;
  -- Touchpoints: events that say how the person arrived (a channel), oldest first.
  return query
  select e.timestamp, e.type, e.event, e.channel, e.utm_source, e.utm_medium, e.utm_campaign,
         e.context -> 'page' ->> 'url', e.context -> 'page' ->> 'referrer'
  from public.events e
  where e.org_id = p_org_id
    and e.profile_id = any (private.profile_lineage(p_org_id, v_id))
    and e.timestamp >= v_first - interval '1 day'
    and e.channel is not null
  order by e.timestamp
  limit p_limit;
end;
$$;

comment on function public.profile_journey(uuid, uuid, int) is
  'A profile''s touchpoints (events with a channel) in time order (customers:read).';

grant execute on function public.profile_journey(uuid, uuid, int) to authenticated, service_role;
