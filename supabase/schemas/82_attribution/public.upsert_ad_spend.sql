-- Stores a batch of daily spend rows (analytics:manage): idempotent by (day,
-- campaign, source), so a re-upload replaces what the same source said. Each
-- row names its campaign by id, key or name (an export's "Campaign" column),
-- or is refused; with p_create_campaigns an unknown name becomes a campaign
-- (key from the name, utm_campaign = the name) as a first upload needs. Rows
-- of one batch with the same key are added up (exports segmented by device or
-- ad set). Bad rows are reported by their index (or the `line` they carry)
-- with the field and rule; the good ones are stored. Returns
-- {stored, created_campaigns, errors: [{line, field, rule, message}]}.
create or replace function public.upsert_ad_spend(
  p_org_id uuid,
  p_source text,
  p_rows jsonb,
  p_create_campaigns boolean default false
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_base text := (private.attribution_settings_of(p_org_id)).base_currency;
  v_errors jsonb;
  v_stored int;
  v_created int := 0;
begin
  perform private.require_permission(p_org_id, 'analytics:manage');
  if p_source is null or p_source !~ '^[a-z0-9][a-z0-9_.-]{0,49}$' then
    raise exception 'source must be a short lower-case name such as csv, api or google_ads'
      using errcode = '22023', detail = 'field: source';
  end if;
  if jsonb_typeof(p_rows) is distinct from 'array' or jsonb_array_length(p_rows) > 50000 then
    raise exception 'rows must be an array of at most 50,000 rows' using errcode = '22023', detail = 'field: rows';
  end if;

  -- Unknown campaigns first (their own statement, so the next one sees them).
  if p_create_campaigns then
    with named as (
      select nullif(btrim(coalesce(r ->> 'campaign', '')), '') as campaign_ref,
             nullif(btrim(coalesce(r ->> 'channel', '')), '') as channel, o
      from jsonb_array_elements(p_rows) with ordinality as x (r, o)
      where nullif(btrim(coalesce(r ->> 'campaign_id', '')), '') is null
    ), missing as (
      select distinct on (lower(n.campaign_ref)) n.campaign_ref, n.channel
      from named n
      where n.campaign_ref is not null
        and not exists (select 1 from public.campaigns c
                        where c.org_id = p_org_id
                          and (c.key = lower(n.campaign_ref) or lower(c.name) = lower(n.campaign_ref)))
      order by lower(n.campaign_ref), n.o
    ), made as (
      insert into public.campaigns (org_id, key, name, channel, utm_campaign)
      select p_org_id,
             left(regexp_replace(regexp_replace(lower(m.campaign_ref), '[^a-z0-9_.-]+', '-', 'g'), '^[^a-z0-9]+', ''), 100),
             left(m.campaign_ref, 200), left(m.channel, 50), left(m.campaign_ref, 200)
      from missing m
      on conflict do nothing
      returning 1
    )
    select count(*) into v_created from made;
  end if;

  with parsed as (
    select coalesce((r ->> 'line')::int, o::int) as line, r,
           private.try_date(r ->> 'day') as day,
           private.try_numeric(r ->> 'amount') as amount,
           upper(coalesce(nullif(r ->> 'currency', ''), v_base)) as currency,
           private.try_numeric(r ->> 'impressions') as impressions,
           private.try_numeric(r ->> 'clicks') as clicks,
           nullif(btrim(coalesce(r ->> 'campaign_id', '')), '') as campaign_ref_id,
           nullif(btrim(coalesce(r ->> 'campaign', '')), '') as campaign_ref,
           nullif(btrim(coalesce(r ->> 'channel', '')), '') as channel
    from jsonb_array_elements(p_rows) with ordinality as x (r, o)
  ), resolved as (
    select p.*,
           (select c.id from public.campaigns c
            where c.org_id = p_org_id
              and (c.id::text = p.campaign_ref_id or c.key = lower(p.campaign_ref)
                   or lower(c.name) = lower(p.campaign_ref))
            order by (c.id::text = p.campaign_ref_id) desc, (c.key = lower(p.campaign_ref)) desc
            limit 1) as campaign_id
    from parsed p
  ), row_errors as (
    select s.line, f.field, f.rule, f.message
    from resolved s
    cross join lateral (values
      ('day', 'date', 'day must be a date (YYYY-MM-DD)', s.day is null),
      ('amount', 'nonnegative_number', 'amount must be a number of at least 0',
       s.amount is null or s.amount < 0),
      ('currency', 'iso_4217', 'currency must be a 3-letter code such as USD', s.currency !~ '^[A-Z]{3}$'),
      ('impressions', 'nonnegative_integer', 'impressions must be a whole number of at least 0',
       nullif(s.r ->> 'impressions', '') is not null
         and (s.impressions is null or s.impressions < 0 or s.impressions <> trunc(s.impressions))),
      ('clicks', 'nonnegative_integer', 'clicks must be a whole number of at least 0',
       nullif(s.r ->> 'clicks', '') is not null
         and (s.clicks is null or s.clicks < 0 or s.clicks <> trunc(s.clicks))),
      ('campaign', 'known_campaign', 'no campaign of the organization has this id, key or name',
       s.campaign_id is null)
    ) as f (field, rule, message, failed)
    where f.failed
  ), valid as (
    select s.* from resolved s where not exists (select 1 from row_errors e where e.line = s.line)
  ), currency_errors as (
    -- Rows of one day and campaign in two currencies cannot be added up.
    select v.line, 'currency' as field, 'one_currency_per_day_and_campaign' as rule,
           'rows of one day and campaign must share a currency' as message
    from valid v
    where (v.day, v.campaign_id) in (select w.day, w.campaign_id from valid w
                                     group by 1, 2 having count(distinct w.currency) > 1)
  ), summed as (
    -- Rows of one batch with the same key are added up (exports segmented by
    -- device or ad set).
    select v.day, v.campaign_id, max(v.channel) as channel, sum(v.amount) as amount, min(v.currency) as currency,
           sum(v.impressions)::bigint as impressions, sum(v.clicks)::bigint as clicks
    from valid v
    where not exists (select 1 from currency_errors e where e.line = v.line)
    group by v.day, v.campaign_id
  ), stored as (
    insert into public.ad_spend (org_id, day, campaign_id, source, channel, amount, currency, impressions, clicks)
    select p_org_id, s.day, s.campaign_id, p_source,
           coalesce(s.channel, (select c.channel from public.campaigns c where c.org_id = p_org_id and c.id = s.campaign_id)),
           s.amount, s.currency, s.impressions, s.clicks
    from summed s
    on conflict (org_id, day, campaign_id, source) do update set
      channel = excluded.channel, amount = excluded.amount, currency = excluded.currency,
      impressions = excluded.impressions, clicks = excluded.clicks
    returning 1
  ), all_errors as (
    select * from row_errors union all select * from currency_errors
  )
  select (select count(*) from stored),
         (select coalesce(jsonb_agg(jsonb_build_object('line', e.line, 'field', e.field, 'rule', e.rule,
                                                       'message', e.message) order by e.line, e.field), '[]')
          from all_errors e)
  into v_stored, v_errors;

  return jsonb_build_object('stored', v_stored, 'created_campaigns', v_created, 'errors', v_errors);
end;
$$;

comment on function public.upsert_ad_spend(uuid, text, jsonb, boolean) is
  'Stores daily spend rows idempotently by (day, campaign, source) (analytics:manage); reports bad rows by line, field and rule.';

grant execute on function public.upsert_ad_spend(uuid, text, jsonb, boolean) to authenticated, service_role;
