-- Attribution (issue 29): the rule-based models on a journey worked by hand,
-- credit summing exactly to each conversion, a missing exchange rate
-- reported, spend upserted idempotently with bad rows named, and every table
-- of it closed to another organization.
begin;
select plan(24);

select tests.create_supabase_user('attr_owner', 'owner@attr.example');
select tests.create_supabase_user('attr_reader', 'reader@attr.example');
select tests.create_supabase_user('rival', 'owner@rival-attr.example');
insert into public.organizations (id, name, slug) values
  ('abababab-0000-4000-8000-000000000029', 'Attr Inc', 'attr-inc'),
  ('abababab-0000-4000-8000-000000000030', 'Rival Attr', 'rival-attr');
insert into public.organization_members (org_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000029', tests.get_supabase_uid('attr_owner'), 'owner'),
  ('abababab-0000-4000-8000-000000000029', tests.get_supabase_uid('attr_reader'), 'read_only'),
  ('abababab-0000-4000-8000-000000000030', tests.get_supabase_uid('rival'), 'owner');

-- Four people, days before now: 1 touched email (5), paid_search (3),
-- direct (2) and bought for 100 (1); 2 touched paid_social (4) and bought for
-- 50 (2); 3 touched email (3) only; 4 bought for 10 (1) with no touch.
select private.create_time_partition('public.events', date_trunc('day', now()) - make_interval(days => d))
from generate_series(0, 6) d;
insert into public.profiles (org_id, id, first_seen_at, last_seen_at)
select 'abababab-0000-4000-8000-000000000029', ('00000000-0000-4000-8000-00000000000' || n)::uuid, now(), now()
from generate_series(1, 4) n;
insert into public.events (org_id, timestamp, source_id, message_id, type, event, profile_id, received_at, channel,
                           utm_source, utm_campaign, revenue, currency)
select 'abababab-0000-4000-8000-000000000029', date_trunc('hour', now()) - make_interval(days => e.d),
       gen_random_uuid(), gen_random_uuid()::text, case when e.rev is null then 'page' else 'track' end,
       case when e.rev is not null then 'Order Completed' end,
       ('00000000-0000-4000-8000-00000000000' || e.p)::uuid, now(), e.ch, e.ch,
       case when e.ch = 'paid_search' then 'spring' end, e.rev, e.cur
from (values (1, 5, 'email', null::numeric, null), (1, 3, 'paid_search', null, null), (1, 2, 'direct', null, null),
             (1, 1, null, 100, null), (2, 4, 'paid_social', null, null), (2, 2, null, 50, null),
             (3, 3, 'email', null, null), (4, 1, null, 10, null)) as e (p, d, ch, rev, cur);
select tests.authenticate_as('attr_owner');
insert into public.campaigns (org_id, key, name, channel, utm_campaign)
values ('abababab-0000-4000-8000-000000000029', 'spring', 'Spring', 'paid_search', 'spring');
reset role;

create temp table runs as
select r.id, r.model
from unnest(array['first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay', 'position_based']) m,
     lateral private.run_rule_attribution('abababab-0000-4000-8000-000000000029', m, now() - interval '6 days',
                                          now()) r;
create temp table credit as
select r.model, a.channel, sum(a.value) as value, sum(a.conversions) as conversions
from runs r join public.attribution_results a on a.run_id = r.id
group by r.model, a.channel;

select is((select jsonb_object_agg(channel, value::float8) from credit where model = 'first_touch'),
  '{"email": 100, "paid_social": 50, "(none)": 10}', 'first touch: the first touch of each journey');
select is((select jsonb_object_agg(channel, value::float8) from credit where model = 'last_touch'),
  '{"direct": 100, "paid_social": 50, "(none)": 10}', 'last touch: the last one');
select is((select jsonb_object_agg(channel, value::float8) from credit where model = 'last_non_direct'),
  '{"paid_search": 100, "paid_social": 50, "(none)": 10}', 'last non-direct skips direct');
select is((select jsonb_object_agg(channel, value) from credit where model = 'linear'),
  '{"email": 33.333333, "direct": 33.333334, "paid_search": 33.333333, "paid_social": 50, "(none)": 10}',
  'linear: thirds, the rounding remainder on one touch');
select is((select jsonb_object_agg(channel, value::float8) from credit where model = 'position_based'),
  '{"email": 40, "paid_search": 20, "direct": 40, "paid_social": 50, "(none)": 10}', 'position based: 40/20/40');
-- Time decay, half-life 7 days: weights 0.5^(4/7), 0.5^(2/7), 0.5^(1/7) for
-- touches 4, 2 and 1 days before the conversion.
select is((select round(value, 2) from credit where model = 'time_decay' and channel = 'email'),
  round((100 * power(0.5, 4 / 7.0) / (power(0.5, 4 / 7.0) + power(0.5, 2 / 7.0) + power(0.5, 1 / 7.0)))::numeric, 2),
  'time decay weights by age');
select is((select count(distinct model)::int from credit), 6, 'every rule-based model ran');
select is((select count(*)::int from (select model from credit group by model having sum(value) <> 160) x), 0,
  'each model distributes exactly the 160 of revenue');
select is((select count(*)::int from (select model from credit group by model having sum(conversions) <> 3) x), 0,
  'and exactly the 3 conversions');
select is((select count(*)::int from public.attribution_results a join public.attribution_runs r on r.id = a.run_id
           where r.org_id = 'abababab-0000-4000-8000-000000000029' and r.model = 'linear'
             and a.channel = 'paid_search' and a.campaign_id is not null), 1,
  'a touch''s UTM campaign links its credit to the campaign');
select is((select count(distinct input_hash)::int from public.attribution_runs
           where org_id = 'abababab-0000-4000-8000-000000000029'), 1,
  'every run over the same input has the same fingerprint');

-- Data-driven paths: converting and non-converting journeys.
select is((select (r.diagnostics ->> 'paths')::int from private.start_path_attribution(
  'abababab-0000-4000-8000-000000000029', 'markov', now() - interval '6 days', now()) r), 3,
  'three distinct paths');
select is((select non_conversions from public.attribution_run_paths
           where org_id = 'abababab-0000-4000-8000-000000000029' and path = array['email']), 1,
  'a journey that did not convert is a path too');

-- A value in a currency without an exchange rate is reported, not taken as 1.
insert into public.events (org_id, timestamp, source_id, message_id, type, event, profile_id, received_at, revenue,
                           currency)
values ('abababab-0000-4000-8000-000000000029', now() - interval '1 hour', gen_random_uuid(), 'eur-order', 'track',
        'Order Completed', '00000000-0000-4000-8000-000000000003', now(), 90, 'EUR');
select is((select missing_rates from private.run_rule_attribution('abababab-0000-4000-8000-000000000029', 'linear',
  now() - interval '6 days', now())), '["EUR"]', 'a missing EUR rate is reported');
insert into public.exchange_rates (day, currency, rate) values (current_date - 1, 'EUR', 0.9);
select is((select value from private.run_rule_attribution('abababab-0000-4000-8000-000000000029', 'linear',
  now() - interval '6 days', now())), 260.0, 'with a rate, 90 EUR is 100 USD');

-- Spend: idempotent by (day, campaign, source); bad rows named, good kept.
select tests.authenticate_as('attr_owner');
select is((select public.upsert_ad_spend('abababab-0000-4000-8000-000000000029', 'csv',
  '[{"day": "2026-03-01", "campaign": "Spring", "amount": "12.5", "clicks": 3, "impressions": 100},
    {"day": "2026-02-30", "campaign": "Spring", "amount": "1"},
    {"day": "2026-03-02", "campaign": "Nope", "amount": "-1"}]') -> 'errors'),
  '[{"line": 2, "field": "day", "rule": "date", "message": "day must be a date (YYYY-MM-DD)"},
    {"line": 3, "field": "amount", "rule": "nonnegative_number", "message": "amount must be a number of at least 0"},
    {"line": 3, "field": "campaign", "rule": "known_campaign", "message": "no campaign of the organization has this id, key or name"}]',
  'bad rows are reported by line, field and rule');
select public.upsert_ad_spend('abababab-0000-4000-8000-000000000029', 'csv',
  '[{"day": "2026-03-01", "campaign": "spring", "amount": 20}]');
select is((select amount from public.ad_spend where org_id = 'abababab-0000-4000-8000-000000000029'), 20::numeric,
  'uploading again replaces the row');
select is((select count(*)::int from public.ad_spend where org_id = 'abababab-0000-4000-8000-000000000029'), 1,
  'and adds none');
select is((select (public.upsert_ad_spend('abababab-0000-4000-8000-000000000029', 'csv',
  '[{"day": "2026-03-01", "campaign": "Autumn Sale", "amount": 5}]', true) ->> 'created_campaigns')::int), 1,
  'an unknown campaign can be created from its name');

-- Tenancy: another organization reads and writes none of it.
select tests.authenticate_as('rival');
select is((select count(*)::int from public.campaigns) + (select count(*)::int from public.ad_spend)
          + (select count(*)::int from public.attribution_runs) + (select count(*)::int from public.attribution_results)
          + (select count(*)::int from public.attribution_run_paths)
          + (select count(*)::int from public.attribution_settings), 0,
  'another organization reads no campaign, spend, run, result, path or setting');
select throws_ok($$ insert into public.campaigns (org_id, key, name, utm_campaign)
  values ('abababab-0000-4000-8000-000000000029', 'planted', 'Planted', 'planted') $$, '42501', null,
  'nor adds a campaign to it');
select throws_ok($$ select public.upsert_ad_spend('abababab-0000-4000-8000-000000000029', 'csv', '[]') $$,
  '42501', null, 'nor loads its spend');
select tests.authenticate_as('attr_reader');
select ok((select count(*) from public.attribution_runs) > 0, 'a read-only member reads the runs');
select throws_ok($$ select public.set_attribution_settings('abababab-0000-4000-8000-000000000029', 'EUR') $$,
  '42501', null, 'but does not change the settings');
reset role;

select * from finish();
rollback;
