-- pgTAP helpers in a `tests` schema, created by the test harness before pg_prove
-- runs (never by a migration). Modelled on basejump's supabase-test-helpers.
create extension if not exists pgtap with schema extensions;

create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;

-- Creates a user in auth.users, remembered by a test-local identifier.
create or replace function tests.create_supabase_user(
  identifier text,
  email text default null,
  phone text default null,
  metadata jsonb default null
) returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_id uuid := gen_random_uuid();
begin
  insert into auth.users (id, aud, role, email, phone, email_confirmed_at,
                          raw_app_meta_data, raw_user_meta_data)
  values (
    v_id, 'authenticated', 'authenticated',
    coalesce(create_supabase_user.email, concat(identifier, '-', v_id, '@test.meridian.local')),
    create_supabase_user.phone,
    now(),
    '{"provider": "email", "providers": ["email"]}',
    jsonb_build_object('test_identifier', identifier) || coalesce(metadata, '{}'::jsonb)
  );
  return v_id;
end;
$$;

create or replace function tests.get_supabase_uid(identifier text)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select id from auth.users
  where raw_user_meta_data ->> 'test_identifier' = identifier
  limit 1
$$;

-- pgTAP keeps its state in temporary tables owned by the session user; the roles
-- a test switches to must be able to write them.
create or replace function tests._share_pgtap_state(p_role text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_rel record;
begin
  for v_rel in
    select c.relname, c.relkind from pg_class c
    where c.relnamespace = pg_my_temp_schema()
      and c.relkind in ('r', 'S')
  loop
    execute format('grant all on pg_temp.%I to %I', v_rel.relname, p_role);
  end loop;
end;
$$;

-- The claims a Supabase Auth session token carries for a test user. Definer,
-- because the caller may already be acting as a role that cannot read auth.users.
create or replace function tests._session_claims(identifier text, aal text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_user auth.users;
begin
  select * into v_user from auth.users u
  where u.raw_user_meta_data ->> 'test_identifier' = identifier limit 1;
  if v_user.id is null then
    raise exception 'tests.authenticate_as: no user %', identifier;
  end if;
  return jsonb_build_object(
    'sub', v_user.id,
    'role', 'authenticated',
    'aud', 'authenticated',
    'email', v_user.email,
    'app_metadata', v_user.raw_app_meta_data,
    'user_metadata', v_user.raw_user_meta_data,
    'aal', aal,
    'session_id', gen_random_uuid()
  );
end;
$$;

-- Acts as the user for the rest of the transaction, as PostgREST would for a
-- request carrying that user's token.
create or replace function tests.authenticate_as(identifier text, aal text default 'aal1')
returns void
language plpgsql
as $$
declare
  v_claims jsonb := tests._session_claims(identifier, aal);
begin
  perform tests._share_pgtap_state('authenticated');
  perform set_config('role', 'authenticated', true);
  perform set_config('request.jwt.claims', v_claims::text, true);
end;
$$;

create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
as $$
begin
  perform tests._share_pgtap_state('service_role');
  perform set_config('role', 'service_role', true);
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
end;
$$;

-- Back to an unauthenticated client: the anon role with no claims.
create or replace function tests.clear_authentication()
returns void
language plpgsql
as $$
begin
  perform tests._share_pgtap_state('anon');
  perform set_config('role', 'anon', true);
  perform set_config('request.jwt.claims', null, true);
end;
$$;

-- Every table in the schema has row-level security on.
create or replace function tests.rls_enabled(testing_schema text)
returns text
language sql
as $$
  select extensions.is(
    (select array_agg(c.relname::text order by c.relname)
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = testing_schema
        and c.relkind in ('r', 'p')
        and not c.relrowsecurity),
    null::text[],
    format('every table in schema %s has row-level security enabled', testing_schema)
  )
$$;

-- One message as the ingest function hands it to private.ingest_batch: type,
-- message id, seconds after a fixed start (2026-11-20 10:00 UTC), identifiers
-- as sent, and any other fields.
create or replace function tests.ingest_message(p_type text, p_id text, p_sec int, p_ids jsonb,
                                                p_extra jsonb default '{}')
returns jsonb
language sql
as $$
  select jsonb_build_object(
    'message_id', p_id, 'type', p_type,
    'timestamp', to_char((timestamptz '2026-11-20 10:00:00+00' + make_interval(secs => p_sec)) at time zone 'UTC',
                         'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'received_at', '2026-11-20T12:00:00Z',
    'identifiers', p_ids) || p_extra
$$;

-- The plan EXPLAIN gives for a query, as one text; p_options as EXPLAIN takes
-- them, e.g. 'verbose, costs off'.
create or replace function tests.plan_of(p_query text, p_options text default 'costs off')
returns text
language plpgsql
as $$
declare
  v_line text;
  v_plan text := '';
begin
  for v_line in execute format('explain (%s) %s', p_options, p_query) loop
    v_plan := v_plan || v_line || E'\n';
  end loop;
  return v_plan;
end;
$$;

grant execute on all functions in schema tests to anon, authenticated, service_role;
