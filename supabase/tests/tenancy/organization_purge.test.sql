-- Deleting an organization removes every row it owns, in every table with an
-- org_id, the time-partitioned ones (which have no foreign key) included, in
-- bounded batches (issue 26, item 11).
begin;
select plan(6);

select tests.create_ingest_org('cccccccc-0000-4000-8000-0000000000a6', 'cccccccc-0000-4000-8000-0000000000b6', 'purged-inc', 'purged_admin');
select tests.create_ingest_org('cccccccc-0000-4000-8000-0000000000a7', 'cccccccc-0000-4000-8000-0000000000b7', 'kept-inc', 'kept_admin');
select private.ingest_batch(o, s, jsonb_build_array(
  tests.ingest_message('track', 'm-' || o || '-1', 1, '[{"type": "anonymous_id", "value": "a-1"}]'),
  tests.ingest_message('identify', 'm-' || o || '-2', 2, '[{"type": "user_id", "value": "u-1"}, {"type": "anonymous_id", "value": "a-1"}]')))
from (values ('cccccccc-0000-4000-8000-0000000000a6'::uuid, 'cccccccc-0000-4000-8000-0000000000b6'::uuid),
             ('cccccccc-0000-4000-8000-0000000000a7'::uuid, 'cccccccc-0000-4000-8000-0000000000b7'::uuid)) v(o, s);
select private.emit_webhook_event('cccccccc-0000-4000-8000-0000000000a6', 'profile.merged', '{"x": 1}');
insert into private.api_key_usage_buffer (org_id, key_id)
values ('cccccccc-0000-4000-8000-0000000000a6', gen_random_uuid());

-- Every table of public and private with an org_id, and how many rows of an
-- organization each holds.
create temp table owned (tbl regclass, org uuid, n bigint);
create or replace function pg_temp.count_owned(p_org uuid) returns bigint language plpgsql as $$
declare v_table regclass; v_n bigint; v_total bigint := 0;
begin
  for v_table in
    select c.oid::regclass from pg_class c join pg_namespace n on n.oid = c.relnamespace
    join pg_attribute a on a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped
    where n.nspname in ('public', 'private') and c.relkind in ('r', 'p') and not c.relispartition
  loop
    execute format('select count(*) from %s where org_id = $1', v_table) into v_n using p_org;
    v_total := v_total + v_n;
  end loop;
  return v_total;
end $$;

select cmp_ok(pg_temp.count_owned('cccccccc-0000-4000-8000-0000000000a6'), '>', 10::bigint,
  'the organization owns rows in many tables, events and audit rows among them');
select ok((select count(*) > 0 from public.events where org_id = 'cccccccc-0000-4000-8000-0000000000a6'),
  'including events, which have no foreign key to organizations');
select pg_temp.count_owned('cccccccc-0000-4000-8000-0000000000a7') as kept_before \gset

delete from public.organizations where id = 'cccccccc-0000-4000-8000-0000000000a6';
select is((select count(*)::int from private.organization_purges
           where org_id = 'cccccccc-0000-4000-8000-0000000000a6'), 1,
  'the deletion queues the organization for the purge');

-- In batches of 3 rows, as pg_cron would in batches of 10,000.
create temp table purge_calls (call int, deleted int);
do $$
declare v_n int;
begin
  for i in 1 .. 100 loop
    v_n := private.purge_deleted_organizations(3);
    insert into purge_calls values (i, v_n);
    exit when v_n = 0;
  end loop;
end $$;
select ok((select count(*) > 1 and max(deleted) <= 3 from purge_calls where deleted > 0),
  'the purge works in bounded batches (3 rows a call here)');
select is(pg_temp.count_owned('cccccccc-0000-4000-8000-0000000000a6'), 0::bigint,
  'no table keeps a row of the deleted organization, and it left the queue');
select is(pg_temp.count_owned('cccccccc-0000-4000-8000-0000000000a7'), :'kept_before'::bigint,
  'another organization keeps every row');

select * from finish();
rollback;
