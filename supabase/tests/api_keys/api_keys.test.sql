-- API keys: the secret is shown once and only its hash kept; verification finds
-- live keys and nothing else; rotation keeps the old key for its grace period;
-- revocation is immediate; scopes never exceed the creator's; usage is buffered.
begin;
select plan(25);

select tests.create_supabase_user('key_owner', 'owner@keys.example');
select tests.create_supabase_user('key_manager', 'manager@keys.example');
insert into public.organizations (id, name, slug, plan)
values ('cccccccc-0000-4000-8000-000000000003', 'Keys Inc', 'keys-inc', 'starter');
insert into public.organization_members (org_id, user_id, role) values
  ('cccccccc-0000-4000-8000-000000000003', tests.get_supabase_uid('key_owner'), 'owner'),
  ('cccccccc-0000-4000-8000-000000000003', tests.get_supabase_uid('key_manager'), 'manager');

select tests.authenticate_as('key_owner');
create temp table issued as
select * from public.create_api_key('cccccccc-0000-4000-8000-000000000003', 'Backend',
  p_scopes => array['customers:read', 'audit:read']);
grant all on issued to authenticated, service_role;

-- CREATE
select ok((select secret ~ '^mk_live_[A-Za-z0-9_-]{32}$' from issued), 'a secret key looks like mk_live_...');
select is((select prefix from issued), (select left(secret, 12) from issued), 'the visible prefix is the secret''s start');
select is((select scopes from issued), array['audit:read', 'customers:read'], 'scopes are kept, sorted');
reset role;
select is(
  (select count(*)::int from private.api_key_secrets
   where key_hash = extensions.digest((select secret from issued), 'sha256')),
  1, 'only the SHA-256 of the secret is stored');
select is(
  (select count(*)::int from public.api_keys k, issued i
   where to_jsonb(k)::text like '%' || i.secret || '%'),
  0, 'the secret itself is stored nowhere in api_keys');
select tests.authenticate_as('key_owner');
select is(
  (select array_agg(column_name::text order by column_name) from information_schema.columns
   where table_schema = 'public' and table_name = 'api_keys' and column_name like '%hash%'),
  null, 'the listing table has no hash column');
select is((select count(*)::int from public.api_keys), 1, 'the owner lists the key');

-- VALIDATION
select throws_ok($$ select public.create_api_key('cccccccc-0000-4000-8000-000000000003', 'x', p_scopes => array['nope:nope']) $$,
  '22023', 'unknown scope "nope:nope"', 'unknown scopes are refused');
select throws_ok($$ select public.create_api_key('cccccccc-0000-4000-8000-000000000003', 'x', 'write') $$,
  '22023', 'write keys need a source_id, and only write keys take one', 'a write key needs a source');
insert into public.sources (org_id, id, name, kind)
values ('cccccccc-0000-4000-8000-000000000003', 'cccccccc-0000-4000-8000-0000000000d1', 'Web', 'web');
select throws_ok($$ select public.create_api_key('cccccccc-0000-4000-8000-000000000003', 'x', 'write', array['customers:read'],
                                          p_source_id => 'cccccccc-0000-4000-8000-0000000000d1') $$,
  '22023', 'write keys carry exactly the events:write scope', 'write keys only write events');
select ok((select secret like 'wk_live_%' from public.create_api_key('cccccccc-0000-4000-8000-000000000003', 'Ingest', 'write',
           p_source_id => 'cccccccc-0000-4000-8000-0000000000d1')),
  'a write key looks like wk_live_...');
select tests.authenticate_as('key_manager');
select throws_ok($$ select public.create_api_key('cccccccc-0000-4000-8000-000000000003', 'x') $$,
  '42501', null, 'a manager cannot manage keys');

-- VERIFY
reset role;
select is((select key_id from private.verify_api_key((select secret from issued))), (select id from issued),
  'the secret verifies to its key');
select is((select scopes from private.verify_api_key((select secret from issued))), array['audit:read', 'customers:read'],
  'verification returns the scopes');
select is_empty($$ select * from private.verify_api_key('mk_live_' || repeat('x', 32)) $$,
  'an unknown secret verifies to nothing');
select is_empty($$ select * from private.verify_api_key(null) $$, 'null verifies to nothing');

-- USAGE: buffered, then folded in.
select tests.authenticate_as('key_owner');
select is((select usage_count from public.api_key_usage('cccccccc-0000-4000-8000-000000000003', (select id from issued))),
  2::bigint, 'usage counts verifications before the flush');
reset role;
select ok(private.flush_api_key_usage() >= 1, 'the flush folds the buffer into api_keys');
select is((select usage_count from public.api_keys where id = (select id from issued)), 2::bigint,
  'usage_count holds after the flush');

-- ROTATE: both keys work during the grace period.
select tests.authenticate_as('key_owner');
create temp table rotated as
select * from public.rotate_api_key('cccccccc-0000-4000-8000-000000000003', (select id from issued), '1 hour');
grant all on rotated to authenticated, service_role;
reset role;
select isnt_empty($$ select * from private.verify_api_key((select secret from rotated)) $$, 'the successor works');
select isnt_empty($$ select * from private.verify_api_key((select secret from issued)) $$, 'the old key works during the grace period');
update public.api_keys set expires_at = now() - interval '1 second' where id = (select id from issued);
select is_empty($$ select * from private.verify_api_key((select secret from issued)) $$, 'the old key stops after the grace period');

-- REVOKE: immediate, and the failed use is audited.
select tests.authenticate_as('key_owner');
select public.revoke_api_key('cccccccc-0000-4000-8000-000000000003', (select id from rotated));
reset role;
select is_empty($$ select * from private.verify_api_key((select secret from rotated)) $$, 'a revoked key stops at once');
select is((select after ->> 'reason' from public.audit_log
           where org_id = 'cccccccc-0000-4000-8000-000000000003' and action = 'api_key.rejected'
           order by seq desc limit 1), 'revoked', 'the use of a revoked key is audited');

-- NETWORKS
update public.api_keys set allowed_cidrs = array['10.0.0.0/8'::cidr], expires_at = null
where id = (select id from issued);
select is_empty($$ select * from private.verify_api_key((select secret from issued), '192.0.2.1') $$
  , 'a key outside its networks verifies to nothing');

select * from finish();
rollback;
