-- Undoing a merge takes the merged profile's numbers back out of the survivor:
-- a visitor V (two page views) is merged with customer C (one order of 100)
-- into V, the older; undone, each has its own counts, revenue, engagement and
-- lifecycle stage again. The message that merged them stays with V.
begin;
select plan(8);

select tests.create_ingest_org('18181818-0000-4000-8000-000000000001', '18181818-0000-4000-8000-0000000000a1',
                               'numbers', 'numbers_admin');

create function pg_temp.ingest(p_type text, p_id text, p_sec int, p_ids jsonb, p_extra jsonb default '{}')
returns jsonb language sql as $$
  select private.ingest_batch('18181818-0000-4000-8000-000000000001', '18181818-0000-4000-8000-0000000000a1',
                              jsonb_build_array(tests.ingest_message(p_type, p_id, p_sec, p_ids, p_extra)))
$$;
-- A profile's numbers by one of its identifier values, as the holder of that
-- value at the time of the first call (so still V's or C's after the merge).
create temp table who (letter text primary key, id uuid not null);
create function pg_temp.numbers(p_letter text)
returns table (event_count bigint, event_counts jsonb, revenue numeric, lifecycle public.lifecycle_stage)
language sql as $$
  select p.event_count, p.event_counts, p.revenue, p.lifecycle_stage
  from public.profiles p join who on who.id = p.id where who.letter = p_letter
$$;
create function pg_temp.engagement(p_letter text) returns double precision language sql as $$
  select p.engagement_raw from public.profiles p join who on who.id = p.id where who.letter = p_letter
$$;

select pg_temp.ingest('page', 'v1', 0, '[{"type": "anonymous_id", "value": "v-1"}]');
select pg_temp.ingest('page', 'v2', 10, '[{"type": "anonymous_id", "value": "v-1"}]');
select pg_temp.ingest('track', 'c1', 20, '[{"type": "user_id", "value": "cust"}]',
                      '{"event": "Order Completed", "revenue": 100}');
insert into who
select l.key, i.profile_id from jsonb_each_text('{"V": "v-1", "C": "cust"}') l
join public.identities i on i.org_id = '18181818-0000-4000-8000-000000000001' and i.value = l.value;
select pg_temp.ingest('identify', 'vc', 30,
                      '[{"type": "user_id", "value": "cust"}, {"type": "anonymous_id", "value": "v-1"}]');

select results_eq($$ select * from pg_temp.numbers('V') $$,
  $$ values (4::bigint, '{"page": 2, "track": 1, "identify": 1}'::jsonb, 100::numeric,
             'customer'::public.lifecycle_stage) $$,
  'merged, V has C''s order and counts, and is a customer');
-- Weights: a page view 1, an identify 2, an order 3 + 5; over seconds, decay is
-- below 1e-4.
select ok(abs(pg_temp.engagement('V') - 12) < 0.001, 'and C''s engagement: 1 + 1 + 8 + 2');

select tests.authenticate_as('numbers_admin');
select public.unmerge_profiles('18181818-0000-4000-8000-000000000001', m.id)
from public.profile_merges m
where m.org_id = '18181818-0000-4000-8000-000000000001' and m.loser_id = (select id from who where letter = 'C');
reset role;

select results_eq($$ select * from pg_temp.numbers('V') $$,
  $$ values (3::bigint, '{"page": 2, "identify": 1}'::jsonb, 0::numeric, 'anonymous'::public.lifecycle_stage) $$,
  'undone, V counts its page views and the merge message, has no revenue, and is anonymous again');
select ok(abs(pg_temp.engagement('V') - 4) < 0.001, 'V''s engagement is its own: 1 + 1 + 2');
select results_eq($$ select * from pg_temp.numbers('C') $$,
  $$ values (1::bigint, '{"track": 1}'::jsonb, 100::numeric, 'customer'::public.lifecycle_stage) $$,
  'C has its order back, as it was');
select ok(abs(pg_temp.engagement('C') - 8) < 0.001, 'C''s engagement is its own: 3 + 5');
select is((select engagement_score from public.profiles where id = (select id from who where letter = 'V')),
  private.engagement_score(pg_temp.engagement('V')), 'V''s score follows its engagement');
select is((select sum(event_count) from public.profiles where org_id = '18181818-0000-4000-8000-000000000001'),
  4::numeric, 'between them they count each of the four events once');

select * from finish();
rollback;
