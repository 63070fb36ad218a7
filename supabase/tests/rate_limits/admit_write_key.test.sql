-- private.admit_write_key: a write key's check and its rate-limit admission in
-- one transaction, the ingest function's single round trip before a batch.
begin;
select plan(11);

select tests.create_supabase_user('admit_owner', 'owner@admit.example');
insert into public.organizations (id, name, slug, plan)
values ('cccccccc-0000-4000-8000-0000000000a7', 'Admit Inc', 'admit-inc', 'starter');
insert into public.organization_members (org_id, user_id, role)
values ('cccccccc-0000-4000-8000-0000000000a7', tests.get_supabase_uid('admit_owner'), 'owner');
insert into public.sources (org_id, id, name, kind) values
  ('cccccccc-0000-4000-8000-0000000000a7', 'cccccccc-0000-4000-8000-0000000000b1', 'Web', 'web'),
  ('cccccccc-0000-4000-8000-0000000000a7', 'cccccccc-0000-4000-8000-0000000000b2', 'Off', 'server');

select tests.authenticate_as('admit_owner');
create temp table keys as
select 'write' as role, * from public.create_api_key('cccccccc-0000-4000-8000-0000000000a7', 'Ingest', 'write',
  p_source_id => 'cccccccc-0000-4000-8000-0000000000b1')
union all
select 'disabled', * from public.create_api_key('cccccccc-0000-4000-8000-0000000000a7', 'Off', 'write',
  p_source_id => 'cccccccc-0000-4000-8000-0000000000b2')
union all
select 'secret', * from public.create_api_key('cccccccc-0000-4000-8000-0000000000a7', 'Backend',
  p_scopes => array['customers:read']);
reset role;
update public.sources set enabled = false where id = 'cccccccc-0000-4000-8000-0000000000b2';
insert into public.rate_limit_policies (org_id, api_key_id, scope, endpoint, request_limit, window_ms)
select 'cccccccc-0000-4000-8000-0000000000a7', id, 'api_key', 'ingest', 2, 60000 from keys where role = 'write';

-- REFUSED KEYS: no row, nothing counted, the refusal audited.
select is_empty($$ select * from private.admit_write_key('wk_live_' || repeat('x', 32), '203.0.113.7', 'ingest') $$,
  'an unknown key gets no row');
select is_empty($$ select * from private.admit_write_key((select secret from keys where role = 'disabled'),
                                                         '203.0.113.7', 'ingest') $$,
  'a write key whose source is disabled gets no row');
select is((select count(*)::int from public.audit_log
           where org_id = 'cccccccc-0000-4000-8000-0000000000a7' and action = 'api_key.rejected'
             and after ->> 'reason' = 'source_disabled'),
  1, 'the refusal is audited');
select results_eq(
  $$ select kind::text, allowed from private.admit_write_key((select secret from keys where role = 'secret'),
                                                              '203.0.113.7', 'ingest') $$,
  $$ values ('secret', null::boolean) $$,
  'a live key that is not a write key comes back without a decision, for the caller to refuse');
select is((select count(*)::int from private.rate_limit_counters
           where key like '%cccccccc-0000-4000-8000-0000000000a7%'
              or key like '%' || (select id from keys where role = 'secret')::text || '%'),
  0, 'and nothing is counted for it, in the organization''s bucket or the key''s');

-- A LIVE WRITE KEY: its source, and the decision of its policy.
select results_eq(
  $$ select key_id, org_id, source_id, allowed, remaining, request_limit, window_ms, scope::text
     from private.admit_write_key((select secret from keys where role = 'write'), '203.0.113.7', 'ingest') $$,
  $$ select id, 'cccccccc-0000-4000-8000-0000000000a7'::uuid, 'cccccccc-0000-4000-8000-0000000000b1'::uuid,
            true, 1, 2, 60000, 'api_key' from keys where role = 'write' $$,
  'a live write key is admitted under its own policy, with its organization and source');
select is((select count(*)::int from private.api_key_usage_buffer
           where key_id = (select id from keys where role = 'write')),
  1, 'the key''s use is recorded');
select results_eq(
  $$ select allowed, remaining from private.admit_write_key((select secret from keys where role = 'write'),
                                                             '203.0.113.7', 'ingest') $$,
  $$ values (true, 0) $$, 'the second request takes the last of the limit');
select results_eq(
  $$ select allowed, retry_after_ms > 0 from private.admit_write_key((select secret from keys where role = 'write'),
                                                                      '203.0.113.7', 'ingest') $$,
  $$ values (false, true) $$, 'the third is denied, with a time to retry');
select results_eq(
  $$ select r.allowed, r.remaining, r.request_limit
     from private.admit_request(
       jsonb_build_object('kind', 'api_key', 'org_id', 'cccccccc-0000-4000-8000-0000000000a7',
                          'key_id', (select id from keys where role = 'write'), 'user_id', null,
                          'ip', '203.0.113.7'), 'ingest', 1, null) r $$,
  $$ values (false, 0, 2) $$,
  'admit_request sees the same bucket: the principal is the one the function builds');

-- WHO MAY CALL IT
select ok(not has_function_privilege('authenticated', 'private.admit_write_key(text, text, text)', 'execute'),
  'signed-in users cannot call it');

select * from finish();
rollback;
