-- Segment group calls: the group (account) is kept with its traits merged per
-- key, the latest message winning; the caller's profile becomes a member; a
-- merge moves memberships to the survivor and an unmerge gives them back.
begin;
select plan(18);

insert into public.organizations (id, name, slug) values ('13131313-0000-4000-8000-000000000001', 'Groups', 'groups');
insert into public.sources (org_id, id, name) values
  ('13131313-0000-4000-8000-000000000001', '13131313-0000-4000-8000-0000000000a1', 'Web');

create function pg_temp.ingest(variadic p_msgs jsonb[]) returns jsonb language sql as $$
  select private.ingest_batch('13131313-0000-4000-8000-000000000001', '13131313-0000-4000-8000-0000000000a1',
                              to_jsonb(p_msgs))
$$;
-- A group call p_sec seconds after 10:00 on 2026-11-20, from the given identifiers.
create function pg_temp.group_call(p_id text, p_sec int, p_ids jsonb, p_group text, p_traits jsonb)
returns jsonb language sql as $$
  select tests.ingest_message('group', p_id, p_sec, p_ids,
                              jsonb_build_object('group_id', p_group, 'traits', p_traits))
$$;
create function pg_temp.owner(p_type text, p_value text) returns uuid language sql as $$
  select profile_id from public.identities
  where org_id = '13131313-0000-4000-8000-000000000001' and type = p_type and value = p_value
$$;
create function pg_temp.groups_of(p_profile uuid) returns text language sql as $$
  select coalesce(string_agg(group_id, ',' order by group_id), '')
  from public.group_memberships
  where org_id = '13131313-0000-4000-8000-000000000001' and profile_id = p_profile
$$;
create function pg_temp.group_traits(p_group text) returns jsonb language sql as $$
  select traits from public.groups where org_id = '13131313-0000-4000-8000-000000000001' and group_id = p_group
$$;

-- A GROUP CALL makes the group and the membership.
select pg_temp.ingest(pg_temp.group_call('g1', 0, '[{"type": "anonymous_id", "value": "anon-1"}]', 'acme',
                                         '{"name": "Acme", "plan": "free"}'));
select is((select name from public.groups where org_id = '13131313-0000-4000-8000-000000000001' and group_id = 'acme'), 'Acme',
  'a group call records the group, named from its traits');
select is(pg_temp.groups_of(pg_temp.owner('anonymous_id', 'anon-1')), 'acme',
  'and makes the caller''s profile a member');

-- TRAITS: per key, the latest message wins, whatever order they arrive in.
select pg_temp.ingest(pg_temp.group_call('g2', 300, '[{"type": "anonymous_id", "value": "anon-1"}]', 'acme',
                                         '{"plan": "pro", "employees": 40}'));
select pg_temp.ingest(pg_temp.group_call('g3', 120, '[{"type": "anonymous_id", "value": "anon-1"}]', 'acme',
                                         '{"plan": "trial", "industry": "Retail"}'));
select is(pg_temp.group_traits('acme'),
  '{"name": "Acme", "plan": "pro", "employees": 40, "industry": "Retail"}'::jsonb,
  'traits merge per key; an older message arriving late changes only keys nobody set since');
select is((select row(first_seen_at, last_seen_at)::text from public.group_memberships
           where org_id = '13131313-0000-4000-8000-000000000001' and group_id = 'acme' and profile_id = pg_temp.owner('anonymous_id', 'anon-1')),
  row(timestamptz '2026-11-20 10:00:00+00', timestamptz '2026-11-20 10:05:00+00')::text,
  'the membership spans the first and last group call');
select pg_temp.ingest(
  pg_temp.group_call('g4', 400, '[{"type": "user_id", "value": "u-1"}]', 'globex', '{"name": "Globex", "tier": "b"}'),
  pg_temp.group_call('g5', 500, '[{"type": "user_id", "value": "u-1"}]', 'globex', '{"tier": "a"}'),
  pg_temp.group_call('g6', 450, '[{"type": "user_id", "value": "u-1"}]', 'globex', '{"tier": "c"}'),
  pg_temp.group_call('g6b', 450, '[{"type": "user_id", "value": "u-1"}]', 'hooli', '{}'));
select is(pg_temp.group_traits('globex'), '{"name": "Globex", "tier": "a"}'::jsonb,
  'within one batch too, the latest call wins');
select is((select count(*) from public.group_memberships where org_id = '13131313-0000-4000-8000-000000000001' and group_id = 'globex'), 1::bigint,
  'three calls of one person make one membership');

-- NO ONE TO ATTACH: a call whose identifiers are all blocked updates the group only.
select pg_temp.ingest(pg_temp.group_call('g7', 600, '[]', 'acme', '{"website": "acme.example"}'));
select is(pg_temp.group_traits('acme') ->> 'website', 'acme.example',
  'a call from no identifiable person still updates the group');
select is((select count(*) from public.group_memberships where org_id = '13131313-0000-4000-8000-000000000001' and group_id = 'acme'), 1::bigint,
  'and makes no membership');
select is(pg_temp.ingest(pg_temp.group_call('g7', 600, '[]', 'acme', '{"website": "other.example"}')) ->> 'duplicates',
  '1', 'a repeated group call is a duplicate');
select is(pg_temp.group_traits('acme') ->> 'website', 'acme.example', 'and changes nothing');

-- MERGE: u-1 (member of globex and hooli) identifies on anon-1's device (member
-- of acme). u-1's profile is the younger one: its memberships move to anon-1's.
select pg_temp.ingest(pg_temp.group_call('g8', 700, '[{"type": "anonymous_id", "value": "anon-2"}]', 'globex', '{}'));
select pg_temp.ingest(tests.ingest_message('identify', 'i1', 800,
  '[{"type": "user_id", "value": "u-1"}, {"type": "anonymous_id", "value": "anon-1"}]'));
select is(pg_temp.groups_of(pg_temp.owner('user_id', 'u-1')), 'acme,globex,hooli',
  'a merge moves the merged profile''s memberships to the survivor');
select is((select count(*) from public.group_memberships m join public.profiles p
             on p.org_id = m.org_id and p.id = m.profile_id
           where m.org_id = '13131313-0000-4000-8000-000000000001' and p.merged_into is not null), 0::bigint,
  'no membership is left on a merged profile');
select is((select jsonb_path_query_array(moved_memberships, '$[*].group_id') from public.profile_merges
           where org_id = '13131313-0000-4000-8000-000000000001'), '["globex", "hooli"]'::jsonb,
  'the merge records the memberships it moved');

-- The survivor is seen in globex after the merge.
select pg_temp.ingest(pg_temp.group_call('g9', 900, '[{"type": "user_id", "value": "u-1"}]', 'globex', '{}'));

-- READ through the API, then UNMERGE: the memberships go back; the survivor keeps its own.
select tests.create_supabase_user('groups_admin');
insert into public.organization_members (org_id, user_id, role)
values ('13131313-0000-4000-8000-000000000001', tests.get_supabase_uid('groups_admin'), 'admin');
select tests.authenticate_as('groups_admin');
select is(
  (select jsonb_path_query_array(public.get_profile('13131313-0000-4000-8000-000000000001', i.profile_id),
                                  '$.groups[*].group_id')
   from public.identities i
   where i.org_id = '13131313-0000-4000-8000-000000000001' and i.type = 'user_id' and i.value = 'u-1'),
  '["acme", "globex", "hooli"]'::jsonb, 'get_profile lists the profile''s groups');
select public.unmerge_profiles('13131313-0000-4000-8000-000000000001',
  (select id from public.profile_merges where org_id = '13131313-0000-4000-8000-000000000001'));
reset role;
select is(pg_temp.groups_of((select loser_id from public.profile_merges
                             where org_id = '13131313-0000-4000-8000-000000000001')), 'globex,hooli',
  'unmerge gives the merged profile its memberships back');
select is(pg_temp.groups_of(pg_temp.owner('anonymous_id', 'anon-1')), 'acme,globex',
  'the survivor keeps the groups it belonged to before or was seen in since, and no other');

-- Deleting a profile deletes its memberships, not the group.
delete from public.profiles where org_id = '13131313-0000-4000-8000-000000000001'
  and id = pg_temp.owner('anonymous_id', 'anon-2');
select is((select count(*) from public.group_memberships where org_id = '13131313-0000-4000-8000-000000000001' and group_id = 'globex'), 2::bigint,
  'a deleted profile''s memberships go with it');
select is((select count(*) from public.groups where org_id = '13131313-0000-4000-8000-000000000001' and group_id = 'globex'), 1::bigint, 'the group stays');

select * from finish();
rollback;
