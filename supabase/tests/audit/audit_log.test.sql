-- The audit log: the generic trigger records who changed what (masked), rows
-- cannot be changed or removed, the hash chain exposes tampering, search
-- filters and pages, and retention drops only fully expired partitions.
begin;
select plan(27);

select tests.create_supabase_user('auditor', 'auditor@audit.example');
select tests.create_supabase_user('staff', 'staff@audit.example');
insert into public.organizations (id, name, slug, plan, audit_masked_keys)
values ('dddddddd-0000-4000-8000-000000000004', 'Audited', 'audited', 'starter', '{internal_note}');
insert into public.organization_members (org_id, user_id, role) values
  ('dddddddd-0000-4000-8000-000000000004', tests.get_supabase_uid('auditor'), 'owner'),
  ('dddddddd-0000-4000-8000-000000000004', tests.get_supabase_uid('staff'), 'member');

-- TRIGGER: actor from the JWT, request context from PostgREST's headers.
select tests.authenticate_as('auditor');
select set_config('request.headers',
  '{"x-forwarded-for": "10.0.0.1, 203.0.113.7", "user-agent": "pgtap", "x-request-id": "req-42"}', true);
update public.organizations
set settings = '{"theme": "dark", "api_token": "abc", "nested": {"password": "p", "internal_note": "n"}}'
where id = 'dddddddd-0000-4000-8000-000000000004';
reset role;
create temp table last_update as
select * from public.audit_log
where org_id = 'dddddddd-0000-4000-8000-000000000004' and action = 'organizations.update';
select is((select actor_user_id from last_update), tests.get_supabase_uid('auditor'), 'the actor is the JWT''s user');
select is((select actor_email from last_update), 'auditor@audit.example', 'the actor''s email is kept');
select is((select host(ip) from last_update), '203.0.113.7', 'the client IP is the x-forwarded-for entry the gateway appended, not one the client wrote');
select is((select request_id from last_update), 'req-42', 'the request id is kept');
select is((select changed_fields from last_update), array['settings'], 'changed fields are summarised');
select is((select after -> 'settings' from last_update),
  '{"theme": "dark", "api_token": "***", "nested": {"password": "***", "internal_note": "***"}}'::jsonb,
  'sensitive keys are masked, including per-organization extras');
select is((select risk from last_update), 'medium'::public.audit_risk, 'organization changes are medium risk');

select tests.authenticate_as('auditor');
select public.change_member_role('dddddddd-0000-4000-8000-000000000004', tests.get_supabase_uid('staff'), 'manager');
reset role;
select is((select risk from public.audit_log where org_id = 'dddddddd-0000-4000-8000-000000000004'
           and action = 'organization_members.update' order by seq desc limit 1),
  'high'::public.audit_risk, 'role changes are high risk');

-- A malformed forwarded address is dropped, never a reason to fail the change.
select tests.authenticate_as('auditor');
select set_config('request.headers', '{"x-forwarded-for": "not-an-ip"}', true);
update public.workspaces set name = 'renamed' where org_id = 'dddddddd-0000-4000-8000-000000000004';
insert into public.workspaces (org_id, name, slug) values ('dddddddd-0000-4000-8000-000000000004', 'W', 'w-bad-ip');
reset role;
select is((select ip from public.audit_log where org_id = 'dddddddd-0000-4000-8000-000000000004'
           and action = 'workspaces.insert' order by seq desc limit 1), null::inet,
  'a malformed x-forwarded-for is stored as no IP');

-- APPEND-ONLY, for every role including the owner of the table.
select throws_ok($$ update public.audit_log set action = 'x.y' where org_id = 'dddddddd-0000-4000-8000-000000000004' $$,
  '42501', 'audit_log is append-only: UPDATE is not allowed', 'rows cannot be updated, even by the table owner');
select throws_ok($$ delete from public.audit_log where org_id = 'dddddddd-0000-4000-8000-000000000004' $$,
  '42501', 'audit_log is append-only: DELETE is not allowed', 'rows cannot be deleted');
select throws_ok($$ truncate public.audit_log $$, '42501', 'audit_log is append-only: TRUNCATE is not allowed',
  'the log cannot be truncated');
select tests.authenticate_as_service_role();
select throws_ok($$ delete from public.audit_log $$, '42501', null, 'service_role cannot delete either');
reset role;

-- CHAIN
select is((select ok from private.verify_audit_chain('dddddddd-0000-4000-8000-000000000004')), true,
  'the untouched chain verifies');
select ok((select rows_checked from private.verify_audit_chain('dddddddd-0000-4000-8000-000000000004')) >= 4,
  'every row was checked');
-- A superuser bypasses the trigger to tamper; the chain shows where.
set local session_replication_role = replica;
update public.audit_log set actor_email = 'someone-else@audit.example'
where org_id = 'dddddddd-0000-4000-8000-000000000004' and seq = 3;
set local session_replication_role = origin;
select results_eq(
  $$ select ok, broken_seq, reason from private.verify_audit_chain('dddddddd-0000-4000-8000-000000000004') $$,
  $$ values (false, 3::bigint, 'row content does not match its hash (row altered)') $$,
  'an altered row is reported as the first broken link');
set local session_replication_role = replica;
delete from public.audit_log where org_id = 'dddddddd-0000-4000-8000-000000000004' and seq = 3;
set local session_replication_role = origin;
select results_eq(
  $$ select ok, broken_seq from private.verify_audit_chain('dddddddd-0000-4000-8000-000000000004') $$,
  $$ values (false, 4::bigint) $$,
  'a deleted row shows as a gap at the next row');

-- SEARCH (audit:read only)
select tests.authenticate_as('auditor');
select ok((select count(*) from public.search_audit_log('dddddddd-0000-4000-8000-000000000004',
            p_query => 'settings')) >= 1, 'free text finds changed fields');
select is((select count(*)::int from public.search_audit_log('dddddddd-0000-4000-8000-000000000004',
            p_action => 'organization_members', p_risk => 'high')), 1,
  'action prefix and minimum risk filter');
select is((select count(*)::int from public.search_audit_log('dddddddd-0000-4000-8000-000000000004',
            p_actor => 'auditor@audit.example', p_limit => 2)), 2, 'limit caps a page');
select is(
  (select count(*)::int from public.search_audit_log('dddddddd-0000-4000-8000-000000000004',
     p_before_occurred_at => (select occurred_at from public.audit_log where org_id = 'dddddddd-0000-4000-8000-000000000004' and seq = 2),
     p_before_seq => 2)),
  1, 'keyset pagination returns rows strictly before the cursor');
select throws_ok($$ select public.search_audit_log('dddddddd-0000-4000-8000-000000000004', now(), now() - interval '1 day') $$,
  '22023', 'from must be before to', 'an inverted range is refused');
select tests.authenticate_as('staff');
select throws_ok($$ select public.search_audit_log('dddddddd-0000-4000-8000-000000000004') $$, '42501', null,
  'without audit:read there is no search');
select is((select count(*)::int from public.audit_log), 0, 'and no direct read');
select throws_ok($$ select public.record_audit_event('dddddddd-0000-4000-8000-000000000004', 'login.succeeded', 'session') $$,
  '42501', null, 'users cannot write audit events');
reset role;

-- RETENTION: a partition goes only when all its rows are past retention_until.
insert into private.audit_chain_heads values ('eeeeeeee-0000-4000-8000-000000000005', 0, '\x00')
on conflict do nothing;
select private.create_time_partition('public.audit_log', '2000-01-01');
set local session_replication_role = replica;
insert into public.audit_log (org_id, seq, occurred_at, actor_type, action, resource_type,
                              retention_until, prev_hash, hash)
values ('eeeeeeee-0000-4000-8000-000000000005', 1, '2000-01-15', 'system', 'old.event', 'x',
        now() + interval '1 day', '\x00', '\x00');
set local session_replication_role = origin;
select private.maintain_time_partitions();
select isnt(to_regclass('partitions.audit_log_p2000_01'), null,
  'a partition with a row still under retention stays');
set local session_replication_role = replica;
update public.audit_log set retention_until = now() - interval '1 day'
where org_id = 'eeeeeeee-0000-4000-8000-000000000005';
set local session_replication_role = origin;
select private.maintain_time_partitions();
select is(to_regclass('partitions.audit_log_p2000_01'), null,
  'once every row is past retention, the partition is dropped');

select * from finish();
rollback;
