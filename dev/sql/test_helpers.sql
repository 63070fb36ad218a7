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

-- An organization to ingest into: the organization (named by its slug), a
-- source 'Web', and an admin user of the given name.
create or replace function tests.create_ingest_org(p_org_id uuid, p_source_id uuid, p_slug text,
                                                   p_admin text)
returns void
language sql
as $$
  insert into public.organizations (id, name, slug) values (p_org_id, initcap(p_slug), p_slug);
  insert into public.sources (org_id, id, name) values (p_org_id, p_source_id, 'Web');
  select tests.create_supabase_user(p_admin);
  insert into public.organization_members (org_id, user_id, role)
  values (p_org_id, tests.get_supabase_uid(p_admin), 'admin');
$$;

-- One message with an anonymous and a user id (either may be null) as the
-- edge function sends them, into one batch of private.ingest_batch: as the
-- message's identifiers, and as its event's anonymous_id and user_id.
create or replace function tests.ingest_with_ids(p_org_id uuid, p_source_id uuid, p_type text, p_id text,
                                                 p_sec int, p_anon text, p_user text,
                                                 p_extra jsonb default '{}')
returns jsonb
language sql
as $$
  select private.ingest_batch(p_org_id, p_source_id,
    jsonb_build_array(tests.ingest_message(p_type, p_id, p_sec,
      coalesce(jsonb_agg(jsonb_build_object('type', i.type, 'value', i.value)), '[]'),
      jsonb_strip_nulls(jsonb_build_object('anonymous_id', p_anon, 'user_id', p_user)) || p_extra)))
  from (values ('anonymous_id', p_anon), ('user_id', p_user)) i (type, value)
  where i.value is not null
$$;

-- Undoes, as the named admin, the standing merge of the profile p_loser_id.
create or replace function tests.unmerge_loser(p_org_id uuid, p_loser_id uuid, p_admin text)
returns void
language sql
as $$
  select tests.authenticate_as(p_admin);
  select public.unmerge_profiles(p_org_id, m.id)
  from public.profile_merges m
  where m.org_id = p_org_id and m.unmerged_at is null and m.loser_id = p_loser_id;
  reset role;
$$;

-- Every profile search_profiles finds for the organization (all, or by email
-- prefix), walked page by page (each page after the last row of the one
-- before), in the order the pages gave them; as the current role.
create or replace function tests.search_profile_pages(p_org_id uuid, p_page_size int,
                                                      p_email text default null)
returns setof public.profiles
language plpgsql
as $$
declare
  v_last public.profiles;
  v_page int;
begin
  loop
    v_page := 0;
    for v_last in
      select * from public.search_profiles(p_org_id, p_email, p_after_last_seen_at => v_last.last_seen_at,
                                           p_after_id => v_last.id, p_limit => p_page_size)
    loop
      return next v_last;
      v_page := v_page + 1;
    end loop;
    exit when v_page < p_page_size;
  end loop;
end;
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
