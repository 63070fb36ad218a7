-- The canonical text of an audit row is what its hash covers: every row already
-- in a chain was hashed over this exact text, so any change to how it is
-- built (a rewrite of private.audit_canonical, a session setting it depends
-- on) would make earlier rows fail verification. The expected text below was
-- taken from the first version of the function (20261121230200_audit_log.sql).
begin;
select plan(7);

create temp table canon_row as
select row(
  '00000000-0000-4000-a000-0000000000a1'::uuid, 42::bigint, '2026-03-04 05:06:07.089123+00'::timestamptz,
  '00000000-0000-4000-a000-0000000000b2'::uuid, 'api_key', null::uuid, null::text,
  '00000000-0000-4000-a000-0000000000c3'::uuid, 'profile_merges.insert', 'profile_merges', 'm-1',
  null::jsonb, '{"reason": "identify", "quote": "it''s \"x\"", "n": 1.50}'::jsonb, '{}'::text[],
  '203.0.113.9'::inet, 'Mozilla/5.0 (X11)', 'req-7', 'low'::public.audit_risk, '{ingest,"two words"}'::text[],
  'success'::public.audit_status, '2033-03-04 05:06:07.089123+00'::timestamptz,
  '\x00ff'::bytea, '\x01'::bytea, null::tsvector, 1::smallint)::public.audit_log as r;

create temp table expected (t text);
insert into expected values ($canon$(00000000-0000-4000-a000-0000000000a1,42,2026-03-04T05:06:07.089123Z,00000000-0000-4000-a000-0000000000b2,api_key,,,00000000-0000-4000-a000-0000000000c3,profile_merges.insert,profile_merges,m-1,,"{""n"": 1.50, ""quote"": ""it's \\""x\\"""", ""reason"": ""identify""}",{},203.0.113.9,"Mozilla/5.0 (X11)",req-7,low,"{ingest,""two words""}",success,2033-03-04T05:06:07.089123Z)$canon$);

select is((select private.audit_canonical(r) from canon_row), (select t from expected),
  'an audit row''s canonical text is the one its hash was first computed over');

-- Settings a session may carry do not change it.
set local timezone = 'America/New_York';
set local datestyle = 'SQL, DMY';
set local intervalstyle = 'sql_standard';
set local extra_float_digits = 0;
select is((select private.audit_canonical(r) from canon_row), (select t from expected),
  'the canonical text does not depend on the session''s time zone or date style');
set local search_path = pg_temp, extensions;
select is((select private.audit_canonical(r) from canon_row), (select t from expected),
  'the canonical text does not depend on the search path');

-- Version 2 (rows appended since hash_version came) hashes the whole address
-- with its mask, and the version: a changed netmask changes the text.
reset search_path;
create temp table canon_v2 as
select (r).*, null::int as drop_me from canon_row;
update canon_v2 set hash_version = 2, ip = '203.0.113.9/24';
select is(
  (select private.audit_canonical(row(c.org_id, c.seq, c.occurred_at, c.id, c.actor_type, c.actor_user_id,
     c.actor_email, c.actor_api_key_id, c.action, c.resource_type, c.resource_id, c.before, c.after,
     c.changed_fields, c.ip, c.user_agent, c.request_id, c.risk, c.tags, c.status, c.retention_until,
     c.prev_hash, c.hash, c.search, c.hash_version)::public.audit_log) from canon_v2 c),
  replace(replace((select t from expected), ',203.0.113.9,', ',203.0.113.9/24,'), 'Z)', 'Z,2)'),
  'version 2 hashes the address with its netmask, and the version');
select isnt(
  (select private.audit_canonical(row(c.org_id, c.seq, c.occurred_at, c.id, c.actor_type, c.actor_user_id,
     c.actor_email, c.actor_api_key_id, c.action, c.resource_type, c.resource_id, c.before, c.after,
     c.changed_fields, '203.0.113.9/32'::inet, c.user_agent, c.request_id, c.risk, c.tags, c.status,
     c.retention_until, c.prev_hash, c.hash, c.search, c.hash_version)::public.audit_log) from canon_v2 c),
  (select private.audit_canonical(row(c.org_id, c.seq, c.occurred_at, c.id, c.actor_type, c.actor_user_id,
     c.actor_email, c.actor_api_key_id, c.action, c.resource_type, c.resource_id, c.before, c.after,
     c.changed_fields, c.ip, c.user_agent, c.request_id, c.risk, c.tags, c.status, c.retention_until,
     c.prev_hash, c.hash, c.search, c.hash_version)::public.audit_log) from canon_v2 c),
  'a changed netmask changes a version 2 row''s canonical text');

-- And a row appended now verifies against the chain with that text.
insert into public.organizations (id, name, slug)
values ('dddddddd-0000-4000-8000-0000000000c1', 'Canonical', 'canonical');
select private.append_audit('dddddddd-0000-4000-8000-0000000000c1', 'tests.canonical', 'tests');
select ok((select v.ok and v.rows_checked >= 2 from private.verify_audit_chain('dddddddd-0000-4000-8000-0000000000c1') v),
  'rows appended with the current function verify');
select is((select min(hash_version)::int from public.audit_log
           where org_id = 'dddddddd-0000-4000-8000-0000000000c1'), 2,
  'rows are appended as version 2');

select * from finish();
rollback;
