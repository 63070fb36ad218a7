-- Each conversion in [p_from, p_to) with the touches that lead to it: a
-- conversion is a track event named in the settings, valued by revenue (else
-- value) in the base currency (null, and reported, without an exchange rate);
-- a touch is an event of the same person (merged profiles followed to their
-- survivor) with a channel or UTM source (of the settings' channels, if
-- listed) in the window before the conversion and, when paths reset, after
-- the person's previous conversion. A conversion with no touch comes once,
-- with a null touch. Events are read only within [p_from - window, p_to), so
-- partitions outside it are pruned.
create or replace function private.attribution_touches(
  p_org_id uuid,
  p_from timestamptz,
  p_to timestamptz,
  p_window_days int default null
)
returns table (conversion_id uuid, conversion_at timestamptz, profile_id uuid, value numeric, currency text,
               touch_id uuid, touch_at timestamptz, channel text, utm_campaign text, utm_source text,
               utm_medium text)
language sql
stable
security definer
set search_path = ''
-- Planned without the period (its bounds come from s) or the organization,
-- conversions are estimated in dozens: a nested loop over the touches then
-- looks about as cheap as a hash join, and runs for hours at a million
-- (bench/README.md, attribution). Hash or merge joins only; no JIT for one run.
set enable_nestloop = off
set jit = off
as $$
  with s as materialized (
    select a.*, make_interval(days => coalesce(p_window_days, a.window_days)) as win,
           p_from - make_interval(days => coalesce(p_window_days, a.window_days)) as scan_from
    from private.attribution_settings_of(p_org_id) a
  ),
  merged as materialized (
    select p.id, p.merged_into from public.profiles p where p.org_id = p_org_id and p.merged_into is not null
  ),
  conv as (
    select e.id, e.timestamp as at, coalesce(m.merged_into, e.profile_id) as pid,
           coalesce(e.revenue, e.value, 0) as amount, coalesce(upper(e.currency), s.base_currency) as currency,
           s.base_currency
    from s
    join public.events e on e.org_id = p_org_id and e.timestamp >= s.scan_from and e.timestamp < p_to
    left join merged m on m.id = e.profile_id
    where e.type = 'track' and e.event = any (s.conversion_events) and e.profile_id is not null
  ),
  conv_in as (
    select c.id, c.at, c.pid, c.currency,
           case when c.currency = c.base_currency then c.amount
                else private.convert_currency(c.amount, c.currency, c.base_currency, (c.at at time zone 'UTC')::date)
           end as value,
           lag(c.at) over (partition by c.pid order by c.at, c.id) as prev_at
    from conv c
  ),
  touch as (
    select e.id, e.timestamp as at, coalesce(m.merged_into, e.profile_id) as pid,
           coalesce(e.channel, 'unknown') as channel, e.utm_campaign, e.utm_source, e.utm_medium
    from s
    join public.events e on e.org_id = p_org_id and e.timestamp >= s.scan_from and e.timestamp < p_to
    left join merged m on m.id = e.profile_id
    where e.profile_id is not null and (e.channel is not null or e.utm_source is not null)
      and (s.touch_channels is null or e.channel = any (s.touch_channels))
  )
  select c.id, c.at, c.pid, c.value, c.currency, t.id, t.at, t.channel, t.utm_campaign, t.utm_source,
         t.utm_medium
  from conv_in c
  cross join s
  left join touch t on t.pid = c.pid and t.at < c.at and t.at >= c.at - s.win
    and (not s.reset_after_conversion or c.prev_at is null or t.at > c.prev_at)
  where c.at >= p_from
$$;

comment on function private.attribution_touches(uuid, timestamptz, timestamptz, int) is
  'Conversions in a period with the touches in their window (null touch when none); partitions pruned by time.';

grant execute on function private.attribution_touches(uuid, timestamptz, timestamptz, int) to service_role;
