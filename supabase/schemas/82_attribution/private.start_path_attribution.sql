-- The SQL half of a data-driven run (markov, shapley): stores the run and the
-- period's distinct channel paths with their converting and non-converting
-- journeys and value, which the attribution function then models. A
-- converting journey is the touches leading to one conversion (as
-- attribution_touches finds them); a non-converting journey is a person's
-- touches in the period after their last conversion (or all of them, if
-- none). Conversions with no touch are counted as unattributed, not as
-- paths. Returns the run, its totals and input fingerprint filled in.
create or replace function private.start_path_attribution(
  p_org_id uuid,
  p_model text,
  p_from timestamptz,
  p_to timestamptz,
  p_window_days int default null,
  p_params jsonb default '{}',
  p_created_by uuid default null
)
returns public.attribution_runs
language plpgsql
security definer
set search_path = ''
-- One long query per run: JIT compiling it costs about half a second, gains
-- nothing measurable (bench/README.md, attribution).
set jit = off
as $$
declare
  v_settings public.attribution_settings := private.attribution_settings_of(p_org_id);
  v_window int := coalesce(p_window_days, v_settings.window_days);
  v_started timestamptz := clock_timestamp();
  v_run public.attribution_runs;
begin
  if p_model not in ('markov', 'shapley') then
    raise exception 'model must be markov or shapley' using errcode = '22023', detail = 'field: model';
  end if;
  insert into public.attribution_runs (org_id, model, params, period_from, period_to, window_days, base_currency,
                                       created_by)
  values (p_org_id, p_model,
          coalesce(p_params, '{}') || jsonb_build_object('conversion_events', v_settings.conversion_events,
            'touch_channels', v_settings.touch_channels, 'reset_after_conversion', v_settings.reset_after_conversion),
          p_from, p_to, v_window, v_settings.base_currency, p_created_by)
  returning * into v_run;

  with t as materialized (
    select * from private.attribution_touches(p_org_id, p_from, p_to, v_window)
  ),
  converting as (
    select array_agg(t.channel order by t.touch_at, t.touch_id) as path, min(t.value) as value
    from t where t.touch_id is not null
    group by t.conversion_id
  ),
  merged as materialized (
    select p.id, p.merged_into from public.profiles p where p.org_id = p_org_id and p.merged_into is not null
  ),
  last_conversion as (
    select coalesce(m.merged_into, e.profile_id) as pid, max(e.timestamp) as at
    from public.events e
    left join merged m on m.id = e.profile_id
    where e.org_id = p_org_id and e.timestamp >= p_from - make_interval(days => v_window) and e.timestamp < p_to
      and e.type = 'track' and e.event = any (v_settings.conversion_events) and e.profile_id is not null
    group by 1
  ),
  open_touches as (
    select coalesce(m.merged_into, e.profile_id) as pid, e.timestamp as at, e.id,
           coalesce(e.channel, 'unknown') as channel
    from public.events e
    left join merged m on m.id = e.profile_id
    where e.org_id = p_org_id and e.timestamp >= p_from and e.timestamp < p_to and e.profile_id is not null
      and (e.channel is not null or e.utm_source is not null)
      and (v_settings.touch_channels is null or e.channel = any (v_settings.touch_channels))
  ),
  non_converting as (
    select array_agg(o.channel order by o.at, o.id) as path
    from open_touches o
    left join last_conversion lc on lc.pid = o.pid
    where lc.at is null or o.at > lc.at
    group by o.pid
  ),
  paths as (
    select p.path, sum(p.conversions)::int as conversions, sum(p.non_conversions)::int as non_conversions,
           sum(p.value) as value
    from (select c.path, 1 as conversions, 0 as non_conversions, coalesce(c.value, 0) as value from converting c
          union all
          select n.path, 0, 1, 0 from non_converting n) p
    group by p.path
  ),
  stored as (
    insert into public.attribution_run_paths (org_id, run_id, path, conversions, non_conversions, value)
    select p_org_id, v_run.id, p.path, p.conversions, p.non_conversions, p.value from paths p
    returning conversions, non_conversions
  ),
  summary as (
    select count(distinct t.conversion_id) as conversions,
           (select coalesce(sum(x.value), 0) from (select distinct on (t2.conversion_id) t2.value from t t2
                                                   order by t2.conversion_id) x) as value,
           count(*) filter (where t.touch_id is null) as unattributed,
           coalesce(sum(t.value) filter (where t.touch_id is null), 0) as unattributed_value,
           coalesce(jsonb_agg(distinct t.currency) filter (where t.value is null), '[]') as missing,
           to_hex(coalesce(bit_xor(hashtextextended(t.conversion_id::text || ':' || coalesce(t.touch_id::text, '')
             || ':' || coalesce(t.value::text, '') || ':' || coalesce(t.channel, ''), 0)), 0)) as input_hash
    from t
  )
  update public.attribution_runs r set
    conversions = s.conversions, value = s.value, unattributed_conversions = s.unattributed,
    unattributed_value = s.unattributed_value, missing_rates = s.missing, input_hash = s.input_hash,
    diagnostics = jsonb_build_object('paths', (select count(*) from stored),
      'journeys', (select coalesce(sum(conversions + non_conversions), 0) from stored),
      'sql_ms', (extract(epoch from clock_timestamp() - v_started) * 1000)::int)
  from summary s
  where r.org_id = p_org_id and r.id = v_run.id
  returning r.* into v_run;
  return v_run;
end;
$$;

comment on function private.start_path_attribution(uuid, text, timestamptz, timestamptz, int, jsonb, uuid) is
  'Stores a data-driven run and its distinct conversion paths (converting and non-converting journeys) for the function to model.';

grant execute on function private.start_path_attribution(uuid, text, timestamptz, timestamptz, int, jsonb, uuid)
  to service_role;
