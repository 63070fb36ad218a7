-- A bucket's stored current-window count as seen from window p_index (of
-- p_window_ms): the stored count if it is that window, else nothing.
-- Pure, with no SET search_path, so it inlines into check_rate_limit's one
-- statement, as the other sliding_window_* helpers do.
create or replace function private.sliding_window_current(
  p_stored_window_ms int, p_stored_index bigint, p_stored_current int,
  p_window_ms int, p_index bigint)
returns int
language sql
immutable
parallel safe
as $$
  select case when p_stored_window_ms = p_window_ms and p_stored_index = p_index
    then p_stored_current else 0 end
$$;

comment on function private.sliding_window_current(int, bigint, int, int, bigint) is
  'A bucket''s current-window count as seen from window p_index.';
