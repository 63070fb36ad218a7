-- A bucket's stored counts as seen from window p_index (of p_window_ms): the
-- previous window's count is the stored current one if the stored window is
-- the one before, and nothing if older or of another size.
create or replace function private.sliding_window_previous(
  p_stored_window_ms int, p_stored_index bigint, p_stored_current int, p_stored_previous int,
  p_window_ms int, p_index bigint)
returns int
language sql
immutable
parallel safe
as $$
  select case
    when p_stored_window_ms <> p_window_ms then 0
    when p_stored_index = p_index then p_stored_previous
    when p_stored_index = p_index - 1 then p_stored_current
    else 0 end
$$;

comment on function private.sliding_window_previous(int, bigint, int, int, int, bigint) is
  'A bucket''s previous-window count as seen from window p_index.';
