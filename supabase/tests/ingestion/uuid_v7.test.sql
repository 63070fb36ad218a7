-- private.uuid_v7, the time-ordered ids of profiles and identities (RFC 9562).
begin;
select plan(7);

select is(substr(private.uuid_v7()::text, 15, 1), '7', 'the version nibble is 7');
select ok(substr(private.uuid_v7()::text, 20, 1) in ('8', '9', 'a', 'b'), 'the variant is RFC 9562''s');
select ok(abs(('x' || substr(replace(private.uuid_v7()::text, '-', ''), 1, 12))::bit(48)::bigint
              - floor(extract(epoch from clock_timestamp()) * 1000)::bigint) < 1000,
  'the first 48 bits are the Unix time in milliseconds');

create temp table ids as select private.uuid_v7() as early;
select pg_sleep(0.005);
select ok((select early from ids) < private.uuid_v7(), 'a later id sorts after an earlier one');

insert into public.organizations (id, name, slug) values ('14141414-0000-4000-8000-000000000001', 'V7', 'v7');
insert into public.profiles (org_id, first_seen_at, last_seen_at)
values ('14141414-0000-4000-8000-000000000001', now(), now());
select is((select substr(id::text, 15, 1) from public.profiles
           where org_id = '14141414-0000-4000-8000-000000000001'), '7',
  'profiles get one by default');

-- Inlined, not called: a SQL function the planner cannot inline is parsed and
-- planned again in every statement that calls it (20261122020000).
select ok(tests.plan_of('select private.uuid_v7()', 'verbose, costs off') !~ 'uuid_v7'
          and tests.plan_of('select private.uuid_v7()', 'verbose, costs off') ~ 'gen_random_uuid',
  'uuid_v7 is inlined where it is called');
select ok(tests.plan_of($q$insert into public.identities (org_id, type, value, profile_id)
                           values ('14141414-0000-4000-8000-000000000001', 'user_id', 'u',
                                   '14141414-0000-4000-8000-000000000002')$q$,
                        'verbose, costs off') !~ 'uuid_v7',
  'and into the identities.id default');

select * from finish();
rollback;
