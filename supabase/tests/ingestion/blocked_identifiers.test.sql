-- private.is_blocked_identifier gives the answers of its first definition
-- (20261121231100_identity_resolution.sql, kept here as the reference) for
-- values at the edges of each rule: spaces and other whitespace around them,
-- case, the empty string, zeros and dashes among other characters, and
-- per-organization additions (which ingestion passes lower-cased).
begin;
select plan(4);

create function pg_temp.first_definition(p_value text, p_extra text[] default '{}')
returns boolean language sql immutable as $$
  select p_value is null
      or btrim(p_value) = ''
      or lower(btrim(p_value)) in ('null', 'undefined', 'anonymous', 'guest', '0', '-1',
                                   '[object object]', 'none', 'nan', 'unknown')
      or btrim(p_value) ~ '^[0-]+$'
      or lower(btrim(p_value)) = any (coalesce(p_extra, '{}'))
$$;

create temp table cases (v text);
insert into cases values
  (null), (''), (' '), ('   '), (E'\t'), (E'\n'), ('null'), ('NULL'), (' Null '), ('nul'), ('nulls'),
  ('undefined'), ('Undefined '), ('anonymous'), ('guest'), ('Guest'), ('guests'), ('0'), (' 0'), ('0 '),
  (E'0\n'), (E'\t0'), ('00'), ('-1'), (' -1 '), ('-'), ('---'), ('- -'), ('0-0'), (' 0-0 '), ('0.0'),
  ('00000000-0000-0000-0000-000000000000'), ('00000000-0000-0000-0000-000000000001'), ('1'), ('-2'),
  ('[object Object]'), ('[OBJECT OBJECT] '), ('[object]'), ('none'), ('NaN'), ('nan '), ('unknown'),
  ('Unknown'), ('u-1'), ('anon-1'), ('qa-tester'), (' QA-Tester '), ('qa'), ('jane@example.com'),
  ('+44 20 7946 0958'), ('é'), (' É '), (repeat('0', 600)), (repeat('x', 600));

select is(
  (select count(*)::int from cases
   where private.is_blocked_identifier(v) is distinct from pg_temp.first_definition(v)),
  0, 'built-in blocked values: the same answers as the first definition');
select is(
  (select count(*)::int from cases
   where private.is_blocked_identifier(v, '{qa-tester,é}') is distinct from pg_temp.first_definition(v, '{qa-tester,é}')),
  0, 'with per-organization additions: the same answers');
select is(
  (select count(*)::int from cases
   where private.is_blocked_identifier(v, null) is distinct from pg_temp.first_definition(v, null)),
  0, 'with no additions (null): the same answers');
-- The cases exercise both answers, so the comparisons above can fail.
select is(
  (select array[count(*) filter (where private.is_blocked_identifier(v, '{qa-tester}')),
                count(*) filter (where not private.is_blocked_identifier(v, '{qa-tester}'))]::int[]
   from cases),
  array[33, 21]::int[], 'the cases hold blocked and unblocked values');

select * from finish();
rollback;
