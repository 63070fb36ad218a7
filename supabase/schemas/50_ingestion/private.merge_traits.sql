-- Merges two trait sets key by key: the value with the later timestamp wins. A
-- key in the timestamps but not in the traits was $unset; its stamp is kept so
-- an older value arriving later does not bring it back.
-- plpgsql, not SQL: an aggregate over the keys cannot be inlined, and plpgsql
-- keeps its plan for the connection where a SQL function is planned again on
-- every call (each merge calls it through fold_profile_into, from a statement
-- of its own).
create or replace function private.merge_traits(
  p_traits jsonb, p_stamps jsonb, p_new_traits jsonb, p_new_stamps jsonb
)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  return (
    with keys as (
      select k from jsonb_object_keys(coalesce(p_stamps, '{}') || coalesce(p_new_stamps, '{}')) k
    ), chosen as (
      select k,
        case when (p_new_stamps ->> k) is not null
                  and ((p_stamps ->> k) is null or (p_new_stamps ->> k) >= (p_stamps ->> k))
             then 'new' else 'old' end as side
      from keys
    )
    select jsonb_build_object(
      'traits', coalesce(jsonb_object_agg(c.k,
                  case when c.side = 'new' then p_new_traits -> c.k else p_traits -> c.k end)
                  filter (where (case when c.side = 'new' then p_new_traits ? c.k else p_traits ? c.k end)),
                  '{}'),
      'timestamps', coalesce(jsonb_object_agg(c.k,
                  case when c.side = 'new' then p_new_stamps -> c.k else p_stamps -> c.k end), '{}'))
    from chosen c
  );
end;
$$;

comment on function private.merge_traits(jsonb, jsonb, jsonb, jsonb) is
  'Per-key merge of traits by timestamp (ISO-8601 UTC strings compare in time order); a key absent from the winning side is unset.';
