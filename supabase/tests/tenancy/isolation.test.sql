-- Cross-tenant isolation: a member of org A, whatever their role, can neither
-- read nor write org B's rows in any tenant table, directly or through RPCs.
begin;
select plan(366);

-- ARRANGE: two organizations with one member of every role, and data in B.
select tests.create_supabase_user('a_' || r) from unnest(enum_range(null::public.org_role)) r;
select tests.create_supabase_user('b_' || r) from unnest(enum_range(null::public.org_role)) r;

insert into public.organizations (id, name, slug, plan)
values ('aaaaaaaa-0000-4000-8000-000000000001', 'Org A', 'iso-org-a', 'enterprise'),
       ('bbbbbbbb-0000-4000-8000-000000000002', 'Org B', 'iso-org-b', 'enterprise');
insert into public.organization_members (org_id, user_id, role, status)
select o.id, tests.get_supabase_uid(o.prefix || r::text), r, 'active'
from (values ('aaaaaaaa-0000-4000-8000-000000000001'::uuid, 'a_'),
             ('bbbbbbbb-0000-4000-8000-000000000002'::uuid, 'b_')) o (id, prefix),
     unnest(enum_range(null::public.org_role)) r;
insert into public.workspaces (org_id, id, name, slug) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-0000000000a1', 'A ws', 'a-ws'),
  ('bbbbbbbb-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-0000000000b1', 'B ws', 'b-ws');
insert into public.workspace_members (org_id, workspace_id, user_id, role) values
  ('bbbbbbbb-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-0000000000b1',
   tests.get_supabase_uid('b_member'), 'manager');
insert into public.invitations (org_id, email, role) values
  ('bbbbbbbb-0000-4000-8000-000000000002', 'someone@b.example', 'member');
insert into public.api_keys (org_id, name, scopes, prefix, last_four) values
  ('bbbbbbbb-0000-4000-8000-000000000002', 'B key', '{customers:read}', 'mk_live_BBBB', 'bbbb');
insert into public.sources (org_id, id, name, kind) values
  ('bbbbbbbb-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-0000000000c1', 'B web', 'web');
insert into public.identity_settings (org_id) values ('bbbbbbbb-0000-4000-8000-000000000002');
-- B's customer data, through ingestion (two profiles that merge, one conflict).
select private.ingest_batch('bbbbbbbb-0000-4000-8000-000000000002', 'bbbbbbbb-0000-4000-8000-0000000000c1', '[
  {"message_id": "b1", "type": "page", "timestamp": "2026-11-20T10:00:00Z", "received_at": "2026-11-20T10:00:00Z",
   "identifiers": [{"type": "anonymous_id", "value": "b-anon"}]},
  {"message_id": "b2", "type": "page", "timestamp": "2026-11-20T10:01:00Z", "received_at": "2026-11-20T10:01:00Z",
   "identifiers": [{"type": "user_id", "value": "b-user"}]},
  {"message_id": "b3", "type": "identify", "timestamp": "2026-11-20T10:02:00Z", "received_at": "2026-11-20T10:02:00Z",
   "identifiers": [{"type": "user_id", "value": "b-user"}, {"type": "anonymous_id", "value": "b-anon"}]},
  {"message_id": "b4", "type": "identify", "timestamp": "2026-11-20T10:03:00Z", "received_at": "2026-11-20T10:03:00Z",
   "identifiers": [{"type": "user_id", "value": "b-other"}, {"type": "anonymous_id", "value": "b-anon"}]},
  {"message_id": "b5", "type": "group", "timestamp": "2026-11-20T10:04:00Z", "received_at": "2026-11-20T10:04:00Z",
   "group_id": "b-account", "traits": {"name": "B Account"},
   "identifiers": [{"type": "user_id", "value": "b-user"}]}
]');

-- A statement is refused when it raises 42501 or touches no row.
create function pg_temp.refused(p_sql text) returns boolean language plpgsql as $$
declare
  v_rows int;
begin
  execute p_sql;
  get diagnostics v_rows = row_count;
  return v_rows = 0;
exception when insufficient_privilege then
  return true;
end;
$$;
create function pg_temp.raises_42501(p_sql text) returns boolean language plpgsql as $$
begin
  execute p_sql;
  return false;
exception when insufficient_privilege then
  return true;
end;
$$;
grant execute on function pg_temp.refused(text), pg_temp.raises_42501(text) to authenticated;

create function pg_temp.isolation_checks(p_role text) returns setof text language plpgsql as $$
declare
  b constant text := 'bbbbbbbb-0000-4000-8000-000000000002';
  a constant text := 'aaaaaaaa-0000-4000-8000-000000000001';
  t text;
  who text := 'a ' || p_role;
begin
  perform tests.authenticate_as('a_' || p_role);

  -- READ: own organization visible (control), B invisible everywhere.
  return next ok((select count(*) from public.organizations where id = a::uuid) = 1,
                 who || ' reads its own organization');
  foreach t in array array['workspaces', 'organization_members', 'workspace_members',
                           'invitations', 'api_keys', 'audit_log', 'sources', 'profiles',
                           'identities', 'events', 'profile_merges', 'identity_conflicts',
                           'identity_settings', 'groups', 'group_memberships'] loop
    return next is(pg_temp.count_org_rows(t, b), 0::bigint, who || ' reads no ' || t || ' of B');
  end loop;
  return next is((select count(*) from public.organizations where id = b::uuid), 0::bigint,
                 who || ' reads no organization B');

  -- INSERT into B
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.workspaces (org_id, name, slug) values (%L, 'x', 'x-planted')$q$, b)),
    who || ' cannot insert a workspace into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.organization_members (org_id, user_id, role) values (%L, %L, 'owner')$q$,
    b, auth.uid())), who || ' cannot add itself to B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.workspace_members (org_id, workspace_id, user_id, role)
       values (%L, 'bbbbbbbb-0000-4000-8000-0000000000b1', %L, 'owner')$q$, b, auth.uid())),
    who || ' cannot grant itself a workspace role in B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.invitations (org_id, email) values (%L, 'x@x.example')$q$, b)),
    who || ' cannot insert an invitation into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.api_keys (org_id, name, prefix, last_four) values (%L, 'x', 'x', 'x')$q$, b)),
    who || ' cannot insert an API key into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.sources (org_id, name) values (%L, 'planted')$q$, b)),
    who || ' cannot insert a source into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.profiles (org_id, first_seen_at, last_seen_at) values (%L, now(), now())$q$, b)),
    who || ' cannot insert a profile into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.events (org_id, timestamp, source_id, message_id, type, received_at)
       values (%L, now(), gen_random_uuid(), 'planted', 'track', now())$q$, b)),
    who || ' cannot insert an event into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.groups (org_id, group_id, first_seen_at, last_seen_at)
       values (%L, 'planted', now(), now())$q$, b)),
    who || ' cannot insert a group into B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.group_memberships (org_id, group_id, profile_id, first_seen_at, last_seen_at)
       select %L, 'b-account', gen_random_uuid(), now(), now()$q$, b)),
    who || ' cannot add a member to B''s groups');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.identity_settings (org_id) values (%L) on conflict (org_id) do update set fold_gmail_addresses = true$q$, b)),
    who || ' cannot write identity settings of B');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.search_profiles(%L)$q$, b)), who || ' cannot search B''s profiles');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.get_profile(%L, (select id from public.profiles limit 1))$q$, b)),
    who || ' cannot open B''s profiles');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.unmerge_profiles(%L, gen_random_uuid())$q$, b)), who || ' cannot unmerge in B');
  return next ok(pg_temp.raises_42501(format(
    $q$insert into public.audit_log (org_id, seq, occurred_at, actor_type, action, resource_type,
         retention_until, prev_hash, hash)
       values (%L, 999, now(), 'system', 'x.y', 'x', now(), '\x00', '\x00')$q$, b)),
    who || ' cannot write B''s audit log');

  -- UPDATE and DELETE in B
  foreach t in array array['workspaces', 'organization_members', 'workspace_members',
                           'invitations', 'api_keys', 'audit_log', 'sources', 'profiles',
                           'identities', 'events', 'profile_merges', 'identity_conflicts',
                           'identity_settings', 'groups', 'group_memberships'] loop
    return next ok(pg_temp.refused(format(
      'update public.%I set org_id = org_id where org_id = %L', t, b)),
      who || ' cannot update ' || t || ' of B');
    return next ok(pg_temp.refused(format('delete from public.%I where org_id = %L', t, b)),
      who || ' cannot delete ' || t || ' of B');
  end loop;
  return next ok(pg_temp.refused(format(
    $q$update public.organizations set name = 'hijacked' where id = %L$q$, b)),
    who || ' cannot update organization B');
  return next ok(pg_temp.refused(format('delete from public.organizations where id = %L', b)),
    who || ' cannot delete organization B');

  -- RPCs aimed at B
  return next ok(pg_temp.raises_42501(format(
    $q$select public.invite_member(%L, 'x@x.example', 'member')$q$, b)), who || ' cannot invite into B');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.create_workspace(%L, 'x', 'x-rpc')$q$, b)), who || ' cannot create a workspace in B');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.create_api_key(%L, 'x')$q$, b)), who || ' cannot create an API key in B');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.search_audit_log(%L)$q$, b)), who || ' cannot search B''s audit log');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.change_member_role(%L, %L, 'owner')$q$, b, tests.get_supabase_uid('b_member'))),
    who || ' cannot change roles in B');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.deactivate_member(%L, %L)$q$, b, tests.get_supabase_uid('b_owner'))),
    who || ' cannot deactivate members of B');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.verify_audit_chain(%L)$q$, b)), who || ' cannot verify B''s audit chain');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.api_key_usage(%L)$q$, b)), who || ' cannot read B''s key usage');
  return next ok(pg_temp.raises_42501(format(
    $q$select public.revoke_api_key(%L, (select id from public.api_keys limit 1))$q$, b)),
    who || ' cannot revoke B''s keys');

  perform set_config('role', 'postgres', true);
end;
$$;

create function pg_temp.count_org_rows(p_table text, p_org text) returns bigint language plpgsql as $$
declare
  v_count bigint;
begin
  execute format('select count(*) from public.%I where org_id = %L', p_table, p_org) into v_count;
  return v_count;
end;
$$;
grant execute on function pg_temp.count_org_rows(text, text) to authenticated;

select pg_temp.isolation_checks('owner');
select pg_temp.isolation_checks('admin');
select pg_temp.isolation_checks('manager');
select pg_temp.isolation_checks('member');
select pg_temp.isolation_checks('read_only');

-- Nothing of B changed.
reset role;
select is(
  (select row(o.name, (select count(*) from public.organization_members m where m.org_id = o.id),
              (select count(*) from public.workspaces w where w.org_id = o.id),
              (select count(*) from public.api_keys k where k.org_id = o.id and k.revoked_at is null),
              (select count(*) from public.events e where e.org_id = o.id),
              (select count(*) from public.profiles p where p.org_id = o.id and p.merged_into is null),
              (select count(*) from public.group_memberships g where g.org_id = o.id))::text
   from public.organizations o where o.id = 'bbbbbbbb-0000-4000-8000-000000000002'),
  row('Org B', 5::bigint, 1::bigint, 1::bigint, 5::bigint, 2::bigint, 1::bigint)::text,
  'org B is exactly as it was');

select * from finish();
rollback;
