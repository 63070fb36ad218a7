-- The traits a set of identify calls leaves, per key the latest call's value
-- (or its $unset), as the profile fold keeps them: {"traits", "timestamps"}.
create or replace function private.traits_from_identifies(p_traits jsonb[], p_at timestamptz[])
returns jsonb
language sql
stable -- to_char and jsonb_build_object are
set search_path = ''
as $$
  with calls as (
    select c.traits, c.at from unnest(p_traits, p_at) c (traits, at)
    where pg_catalog.jsonb_typeof(c.traits) = 'object'
  ), set_or_unset as (
    select kv.key, kv.value, c.at from calls c, pg_catalog.jsonb_each(c.traits) kv
    where kv.key <> '$unset'
    union all
    select u.key, null, c.at
    from calls c, pg_catalog.jsonb_array_elements_text(
      case when pg_catalog.jsonb_typeof(c.traits -> '$unset') = 'array' then c.traits -> '$unset'
           else '[]' end) u (key)
  ), latest as (
    select distinct on (x.key) x.key, x.value, x.at from set_or_unset x order by x.key, x.at desc
  )
  select pg_catalog.jsonb_build_object(
    'traits', coalesce(pg_catalog.jsonb_object_agg(l.key, l.value) filter (where l.value is not null), '{}'),
    'timestamps', coalesce(pg_catalog.jsonb_object_agg(l.key, private.trait_stamp(l.at)), '{}'))
  from latest l
$$;

comment on function private.traits_from_identifies(jsonb[], timestamptz[]) is
  'Traits and their timestamps that identify calls (traits, time) leave: per key, the latest call wins.';
