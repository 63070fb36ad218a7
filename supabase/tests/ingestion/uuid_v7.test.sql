-- private.uuid_v7, the time-ordered ids of profiles and identities (RFC 9562).
begin;
select plan(5);

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

select * from finish();
rollback;
