-- The ground every migration stands on: Supabase's roles and auth helpers, the
-- grant defaults of the foundation migration, and RLS on every public table.
begin;
select plan(14);

-- ROLES
select ok((select rolbypassrls from pg_roles where rolname = 'service_role'),
  'service_role bypasses RLS, as on Supabase');
select ok(not (select rolbypassrls from pg_roles where rolname = 'authenticated'),
  'authenticated does not bypass RLS');
select ok(pg_has_role('authenticator', 'anon', 'member')
      and pg_has_role('authenticator', 'authenticated', 'member'),
  'authenticator can switch to anon and authenticated');

-- AUTH HELPERS
select tests.create_supabase_user('platform_user', 'platform@example.com');
select tests.authenticate_as('platform_user');
select is(auth.uid(), tests.get_supabase_uid('platform_user'),
  'auth.uid() is the sub claim of the request');
select is(auth.role(), 'authenticated', 'auth.role() is the role claim');
select is(auth.jwt() ->> 'email', 'platform@example.com', 'auth.jwt() exposes the claims');
select tests.clear_authentication();
select is(auth.uid(), null, 'auth.uid() is null without claims');
reset role;

-- GRANT DEFAULTS: a new public function is callable by nobody until granted.
create function public.tmp_probe() returns int language sql as 'select 1';
select ok(not has_function_privilege('anon', 'public.tmp_probe()', 'execute'),
  'new public functions are not executable by anon by default');
select ok(not has_function_privilege('authenticated', 'public.tmp_probe()', 'execute'),
  'new public functions are not executable by authenticated by default');

-- SCHEMAS
select ok(not has_schema_privilege('anon', 'private', 'usage'),
  'anon cannot reach the private schema');
select is(
  (select array_agg(p.proname::text) from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
   where n.nspname in ('public', 'private')
     and not exists (
       select 1 from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%')
     -- Inlinable helpers are exempt: IMMUTABLE SQL, not security definer, and
     -- private.uuid_v7 (volatile SQL, inlined into the column defaults that call
     -- it; uuid_v7.test.sql checks that it is).
     and not (p.prolang = (select oid from pg_language where lanname = 'sql')
              and not p.prosecdef
              and (p.provolatile = 'i' or p.oid = 'private.uuid_v7()'::regprocedure))
     and p.proname <> 'tmp_probe'),
  null::text[],
  'every function in public and private pins its search_path, but inlinable SQL helpers');

select tests.rls_enabled('public');
select tests.rls_enabled('private');
select tests.rls_enabled('partitions');

select * from finish();
rollback;
