-- Undoing a merge after its survivor was merged again: A (anonymous a-1) merges
-- into B (user u-1), then B into C (anonymous c-1, the oldest). Whichever of the
-- two merges is undone first, each profile ends with its own identities and
-- memberships and event counts, and the merged profiles point at their survivor.
begin;
select plan(30);

select tests.create_ingest_org('15151515-0000-4000-8000-000000000001', '15151515-0000-4000-8000-0000000000a1',
                               'chains', 'chain_admin');

create function pg_temp.ingest(p_type text, p_id text, p_sec int, p_ids jsonb, p_extra jsonb default '{}')
returns jsonb language sql as $$
  select private.ingest_batch('15151515-0000-4000-8000-000000000001', '15151515-0000-4000-8000-0000000000a1',
                              jsonb_build_array(tests.ingest_message(p_type, p_id, p_sec, p_ids, p_extra)))
$$;
-- Profiles by the letter of this scenario, and what each holds, as letters.
create temp table who (letter text primary key, id uuid not null);
-- Names each profile by the letter given with one of its identifier values.
create function pg_temp.name_profiles(p_letters jsonb) returns void language sql as $$
  insert into who
  select l.key, i.profile_id from jsonb_each_text(p_letters) l
  join public.identities i on i.value = l.value
  where i.org_id = '15151515-0000-4000-8000-000000000001'
$$;
create function pg_temp.letter(p_id uuid) returns text language sql as $$
  select letter from who where id = p_id
$$;
create function pg_temp.owner(p_value text) returns text language sql as $$
  select pg_temp.letter(profile_id) from public.identities
  where org_id = '15151515-0000-4000-8000-000000000001' and value = p_value
$$;
create function pg_temp.groups_of(p_letter text) returns text language sql as $$
  select coalesce(string_agg(m.group_id, ',' order by m.group_id), '')
  from public.group_memberships m join who on who.id = m.profile_id
  where m.org_id = '15151515-0000-4000-8000-000000000001' and who.letter = p_letter
$$;
create function pg_temp.pointer(p_letter text) returns text language sql as $$
  select coalesce(pg_temp.letter(p.merged_into), '-')
  from public.profiles p join who on who.id = p.id
  where p.org_id = '15151515-0000-4000-8000-000000000001' and who.letter = p_letter
$$;
create function pg_temp.counts_of(p_letter text) returns text language sql as $$
  select p.event_count || ' ' || p.event_counts::text
  from public.profiles p join who on who.id = p.id
  where p.org_id = '15151515-0000-4000-8000-000000000001' and who.letter = p_letter
$$;
create function pg_temp.undo(p_loser text) returns void language plpgsql as $$
begin
  perform tests.authenticate_as('chain_admin');
  perform public.unmerge_profiles('15151515-0000-4000-8000-000000000001', m.id)
  from public.profile_merges m join who on who.id = m.loser_id
  where m.org_id = '15151515-0000-4000-8000-000000000001' and who.letter = p_loser and m.unmerged_at is null;
  reset role;
end;
$$;

-- C, B and A, oldest first. C and A are both in gc; B is in gb, A in ga.
select pg_temp.ingest('group', 'c', 0, '[{"type": "anonymous_id", "value": "c-1"}]', '{"group_id": "gc"}');
select pg_temp.ingest('group', 'b', 10, '[{"type": "user_id", "value": "u-1"}]', '{"group_id": "gb"}');
select pg_temp.ingest('group', 'a', 20, '[{"type": "anonymous_id", "value": "a-1"}]', '{"group_id": "ga"}');
select pg_temp.ingest('group', 'a2', 21, '[{"type": "anonymous_id", "value": "a-1"}]', '{"group_id": "gc"}');
select pg_temp.name_profiles('{"A": "a-1", "B": "u-1", "C": "c-1"}');
-- A into B, then B into C.
select pg_temp.ingest('identify', 'ab', 30, '[{"type": "user_id", "value": "u-1"}, {"type": "anonymous_id", "value": "a-1"}]');
select pg_temp.ingest('identify', 'bc', 40, '[{"type": "user_id", "value": "u-1"}, {"type": "anonymous_id", "value": "c-1"}]');
select results_eq(
  $$ select pg_temp.owner('a-1'), pg_temp.owner('u-1'), pg_temp.groups_of('C'), pg_temp.pointer('A'), pg_temp.pointer('B') $$,
  $$ values ('C', 'C', 'ga,gb,gc', 'C', 'C') $$,
  'after both merges C holds everything and A and B point at it');
select is(pg_temp.counts_of('C'), '6 {"group": 4, "identify": 2}', 'and counts every event of the three');

-- THE FIRST MERGE UNDONE FIRST
savepoint first_first;
select pg_temp.undo('A');
select is(pg_temp.owner('a-1'), 'A', 'undoing A->B takes A''s identity back from C, which holds it now');
select is(pg_temp.owner('u-1'), 'C', 'and leaves B''s with C');
select is(pg_temp.groups_of('A'), 'ga,gc', 'A gets its memberships back from C');
select is(pg_temp.groups_of('C'), 'gb,gc',
  'C gives up the group A brought along the whole chain, and keeps one it had of its own');
select results_eq($$ select pg_temp.pointer('A'), pg_temp.pointer('B') $$, $$ values ('-', 'C') $$,
  'A stands alone; B still points at C');
select pg_temp.undo('B');
select is(pg_temp.owner('a-1'), 'A', 'undoing B->C then leaves A''s identity with A');
select is(pg_temp.owner('u-1'), 'B', 'and gives B its own');
select is(pg_temp.owner('c-1'), 'C', 'C keeps its own');
select results_eq($$ select pg_temp.groups_of('A'), pg_temp.groups_of('B'), pg_temp.groups_of('C') $$,
  $$ values ('ga,gc', 'gb', 'gc') $$, 'each profile is in its own groups only');
select results_eq(
  $$ select pg_temp.pointer('A'), pg_temp.pointer('B'), pg_temp.pointer('C') $$, $$ values ('-', '-', '-') $$,
  'all three stand alone');
select results_eq(
  $$ select pg_temp.letter(id), identified from public.profiles
     where org_id = '15151515-0000-4000-8000-000000000001' order by 1 $$,
  $$ values ('A', false), ('B', true), ('C', false) $$,
  'only B, with the user id, is identified');
select results_eq($$ select pg_temp.counts_of('A'), pg_temp.counts_of('B'), pg_temp.counts_of('C') $$,
  $$ values ('2 {"group": 2}', '2 {"group": 1, "identify": 1}', '2 {"group": 1, "identify": 1}') $$,
  'each profile counts its own events, and the merge message stays with the profile that took it');
rollback to savepoint first_first;

-- THE LATER MERGE UNDONE FIRST
savepoint later_first;
select pg_temp.undo('B');
select results_eq($$ select pg_temp.owner('a-1'), pg_temp.owner('u-1'), pg_temp.owner('c-1') $$,
  $$ values ('B', 'B', 'C') $$, 'undoing B->C gives B what it held, A''s identity included (A->B stands)');
select is(pg_temp.pointer('A'), 'B', 'A points at B again, not at C');
select is(pg_temp.pointer('B'), '-', 'B stands alone');
select results_eq($$ select pg_temp.groups_of('B'), pg_temp.groups_of('C') $$, $$ values ('ga,gb,gc', 'gc') $$,
  'B gets the memberships back; C keeps its own');
select results_eq(
  $$ select pg_temp.letter(id), identified from public.profiles
     where org_id = '15151515-0000-4000-8000-000000000001' and merged_into is null order by 1 $$,
  $$ values ('B', true), ('C', false) $$, 'C is no longer identified; B is');
select pg_temp.undo('A');
select results_eq($$ select pg_temp.owner('a-1'), pg_temp.owner('u-1'), pg_temp.owner('c-1') $$,
  $$ values ('A', 'B', 'C') $$, 'then undoing A->B gives A its identity back from B');
select results_eq($$ select pg_temp.groups_of('A'), pg_temp.groups_of('B'), pg_temp.groups_of('C') $$,
  $$ values ('ga,gc', 'gb', 'gc') $$, 'and its memberships: each profile is in its own groups only');
select results_eq(
  $$ select pg_temp.pointer('A'), pg_temp.pointer('B'), pg_temp.pointer('C') $$, $$ values ('-', '-', '-') $$,
  'all three stand alone');
select results_eq($$ select pg_temp.counts_of('A'), pg_temp.counts_of('B'), pg_temp.counts_of('C') $$,
  $$ values ('2 {"group": 2}', '2 {"group": 1, "identify": 1}', '2 {"group": 1, "identify": 1}') $$,
  'the counts come out the same in this order');
rollback to savepoint later_first;

-- SEEN SINCE: C calls ga after the merges; undoing A->B leaves C in ga.
savepoint seen_since;
select pg_temp.ingest('group', 'c2', 50, '[{"type": "anonymous_id", "value": "c-1"}]', '{"group_id": "ga"}');
select pg_temp.undo('A');
select results_eq($$ select pg_temp.groups_of('A'), pg_temp.groups_of('C') $$, $$ values ('ga,gc', 'ga,gb,gc') $$,
  'a group the holder was seen in since the merge stays with it, and A gets it back too');
rollback to savepoint seen_since;

-- A GROUP GONE: a group deleted since the merge is not given back.
savepoint group_gone;
delete from public.groups where org_id = '15151515-0000-4000-8000-000000000001' and group_id = 'ga';
select pg_temp.undo('A');
select is(pg_temp.groups_of('A'), 'gc', 'a deleted group is not given back');
rollback to savepoint group_gone;

-- A GROUP THE MIDDLE PROFILE CALLED ITSELF: F (in gx) merges into E, E calls gx,
-- E merges into D. Undoing both, E keeps gx: it was a member of its own too.
savepoint middle_called;
select pg_temp.ingest('track', 'd', 100, '[{"type": "anonymous_id", "value": "d-1"}]');
select pg_temp.ingest('track', 'e', 110, '[{"type": "user_id", "value": "u-2"}]');
select pg_temp.ingest('group', 'f', 120, '[{"type": "anonymous_id", "value": "f-1"}]', '{"group_id": "gx"}');
select pg_temp.name_profiles('{"D": "d-1", "E": "u-2", "F": "f-1"}');
select pg_temp.ingest('identify', 'fe', 130, '[{"type": "user_id", "value": "u-2"}, {"type": "anonymous_id", "value": "f-1"}]');
select pg_temp.ingest('group', 'e2', 135, '[{"type": "user_id", "value": "u-2"}]', '{"group_id": "gx"}');
select pg_temp.ingest('identify', 'ed', 140, '[{"type": "user_id", "value": "u-2"}, {"type": "anonymous_id", "value": "d-1"}]');
select pg_temp.undo('F');
select pg_temp.undo('E');
select results_eq($$ select pg_temp.groups_of('D'), pg_temp.groups_of('E'), pg_temp.groups_of('F') $$,
  $$ values ('', 'gx', 'gx') $$,
  'a group the middle profile was seen in itself goes back to it as well as to the first');
rollback to savepoint middle_called;

-- An undone merge stays undone, and another organization's merge is not found.
select pg_temp.undo('A');
select tests.authenticate_as('chain_admin');
select throws_ok(
  format('select public.unmerge_profiles(%L, %L)', '15151515-0000-4000-8000-000000000001',
         (select m.id from public.profile_merges m join who on who.id = m.loser_id where who.letter = 'A')),
  '22023', 'this merge was already undone', 'a merge is undone once');
select throws_ok(
  format('select public.unmerge_profiles(%L, %L)', '15151515-0000-4000-8000-000000000001', gen_random_uuid()),
  'PT404', 'merge not found', 'an unknown merge is not found');
reset role;
select results_eq($$ select pg_temp.owner('a-1'), pg_temp.owner('u-1') $$, $$ values ('A', 'C') $$,
  'nothing moved on the refused calls');
select is((select count(*) from public.profile_merges
           where org_id = '15151515-0000-4000-8000-000000000001' and unmerged_at is null), 1::bigint,
  'B->C stands');

select * from finish();
rollback;
