-- Runs a rule-based model, set-based over the period's touches, and stores
-- the run and its credit by channel, campaign (UTM values) and conversion day.
-- Weights per touch of a conversion: first_touch and last_touch (1 for that
-- touch), last_non_direct (the last touch not 'direct', else the last),
-- linear (1 each), time_decay (0.5 ^ (age in days / half-life), default 7),
-- position_based (first and last 40% each, the middle 20% shared; one touch
-- takes all, two take half each; shares configurable). Each conversion's
-- value and its one conversion are split in proportion, rounded (6 and 9
-- decimals) with the rounding remainder on its largest share, so the credit
-- of every conversion sums exactly to it. A conversion with no touch is
-- credited to the channel '(none)'. Returns the stored run.
create or replace function private.run_rule_attribution(
  p_org_id uuid,
  p_model text,
  p_from timestamptz,
  p_to timestamptz,
  p_window_days int default null,
  p_options jsonb default '{}',
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
  v_half_life numeric := coalesce((p_options ->> 'half_life_days')::numeric, 7);
  v_first numeric := coalesce((p_options ->> 'first_share')::numeric, 0.4);
  v_last numeric := coalesce((p_options ->> 'last_share')::numeric, 0.4);
  v_started timestamptz := clock_timestamp();
  v_run public.attribution_runs;
begin
  if p_model not in ('first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay', 'position_based') then
    raise exception 'model must be a rule-based model' using errcode = '22023', detail = 'field: model';
  end if;
  if v_half_life <= 0 or v_first < 0 or v_last < 0 or v_first + v_last > 1 then
    raise exception 'half_life_days must be positive; first_share and last_share at least 0 and at most 1 together'
      using errcode = '22023', detail = 'field: options';
  end if;
  insert into public.attribution_runs (org_id, model, params, period_from, period_to, window_days, base_currency,
                                       created_by)
  values (p_org_id, p_model,
          case p_model
            when 'time_decay' then jsonb_build_object('half_life_days', v_half_life)
            when 'position_based' then jsonb_build_object('first_share', v_first, 'last_share', v_last)
            else '{}'::jsonb end
          || jsonb_build_object('conversion_events', v_settings.conversion_events,
                                'touch_channels', v_settings.touch_channels,
                                'reset_after_conversion', v_settings.reset_after_conversion),
          p_from, p_to, v_window, v_settings.base_currency, p_created_by)
  returning * into v_run;

  with t as materialized (
    select * from private.attribution_touches(p_org_id, p_from, p_to, v_window)
  ),
  numbered as (
    select t.*,
           count(t.touch_id) over c as n,
           row_number() over (partition by t.conversion_id order by t.touch_at, t.touch_id) as pos,
           count(*) filter (where t.channel <> 'direct') over (partition by t.conversion_id
             order by t.touch_at, t.touch_id rows between unbounded preceding and current row) as nd_upto,
           count(*) filter (where t.channel <> 'direct') over c as nd_total
    from t
    window c as (partition by t.conversion_id)
  ),
  weighted as (
    select nb.*,
           case when nb.n = 0 then 1::numeric
           else case p_model
             when 'first_touch' then (nb.pos = 1)::int::numeric
             when 'last_touch' then (nb.pos = nb.n)::int::numeric
             -- The last touch that is not direct: the non-direct touch where
             -- the running count of non-direct touches reaches its total.
             when 'last_non_direct' then case when nb.nd_total = 0 then (nb.pos = nb.n)::int
                                              else (nb.channel <> 'direct' and nb.nd_upto = nb.nd_total)::int
                                         end::numeric
             when 'linear' then 1::numeric
             when 'time_decay' then power(0.5::float8,
               extract(epoch from nb.conversion_at - nb.touch_at)::float8 / 86400.0 / v_half_life::float8)::numeric
             when 'position_based' then case when nb.n = 1 then 1::numeric
                                             when nb.n = 2 then 0.5
                                             when nb.pos = 1 then v_first
                                             when nb.pos = nb.n then v_last
                                             else (1 - v_first - v_last) / (nb.n - 2) end
           end end as w
    from numbered nb
  ),
  shared as (
    select wt.*, sum(wt.w) over c as w_total,
           row_number() over (partition by wt.conversion_id order by wt.w desc, wt.pos desc) as largest
    from weighted wt
    window c as (partition by wt.conversion_id)
  ),
  rounded as (
    select sh.*, round(coalesce(sh.value, 0) * sh.w / sh.w_total, 6) as v_r, round(sh.w / sh.w_total, 9) as c_r
    from shared sh
  ),
  credited as (
    select r.*,
           r.v_r + case when r.largest = 1 then coalesce(r.value, 0) - sum(r.v_r) over c else 0 end as credit_value,
           r.c_r + case when r.largest = 1 then 1 - sum(r.c_r) over c else 0 end as credit_conversions
    from rounded r
    window c as (partition by r.conversion_id)
  ),
  grouped as (
    select case when cr.n = 0 then '(none)' else cr.channel end as channel, cr.utm_campaign, cr.utm_source,
           cr.utm_medium, (cr.conversion_at at time zone 'UTC')::date as day,
           sum(cr.credit_conversions) as conversions, sum(cr.credit_value) as value
    from credited cr
    where cr.w > 0
    group by 1, 2, 3, 4, 5
  ),
  linked as (
    select g.*,
           (select cp.id from public.campaigns cp
            where cp.org_id = p_org_id and cp.utm_campaign = g.utm_campaign
              and (cp.utm_source is null or cp.utm_source = g.utm_source)
              and (cp.utm_medium is null or cp.utm_medium = g.utm_medium)
            order by (cp.utm_source is not null)::int + (cp.utm_medium is not null)::int desc
            limit 1) as campaign_id
    from grouped g
  ),
  stored as (
    insert into public.attribution_results (org_id, run_id, channel, utm_campaign, campaign_id, day, conversions,
                                            value)
    select p_org_id, v_run.id, l.channel, l.utm_campaign, l.campaign_id, l.day, sum(l.conversions), sum(l.value)
    from linked l
    group by l.channel, l.utm_campaign, l.campaign_id, l.day
    returning 1
  ),
  summary as (
    select count(distinct t.conversion_id) as conversions,
           coalesce(sum(t.value) filter (where t.touch_id is null or t.pos = 1), 0) as value,
           count(*) filter (where t.touch_id is null) as unattributed,
           coalesce(sum(t.value) filter (where t.touch_id is null), 0) as unattributed_value,
           coalesce(jsonb_agg(distinct t.currency) filter (where t.value is null), '[]') as missing,
           to_hex(coalesce(bit_xor(hashtextextended(t.conversion_id::text || ':' || coalesce(t.touch_id::text, '')
             || ':' || coalesce(t.value::text, '') || ':' || coalesce(t.channel, ''), 0)), 0)) as input_hash
    from numbered t
  )
  update public.attribution_runs r set
    conversions = s.conversions, value = s.value, unattributed_conversions = s.unattributed,
    unattributed_value = s.unattributed_value, missing_rates = s.missing, input_hash = s.input_hash,
    diagnostics = jsonb_build_object('result_rows', (select count(*) from stored)),
    duration_ms = (extract(epoch from clock_timestamp() - v_started) * 1000)::int
  from summary s
  where r.org_id = p_org_id and r.id = v_run.id
  returning r.* into v_run;
  return v_run;
end;
$$;

comment on function private.run_rule_attribution(uuid, text, timestamptz, timestamptz, int, jsonb, uuid) is
  'Runs a rule-based attribution model over a period and stores the run and its credit; each conversion''s credit sums exactly to it.';

grant execute on function private.run_rule_attribution(uuid, text, timestamptz, timestamptz, int, jsonb, uuid)
  to service_role;
