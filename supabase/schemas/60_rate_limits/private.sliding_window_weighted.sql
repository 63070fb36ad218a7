-- The previous window's count weighted by the part of it still inside the
-- sliding window, rounded up (@upstash/ratelimit rounds down): a fraction of a
-- request never becomes capacity.
-- The window's arithmetic (the sliding_window_* helpers) is kept pure so tests
-- can check it at fixed instants and the decision stays one statement; no SET
-- search_path, so the helpers inline into it.
create or replace function private.sliding_window_weighted(p_previous int, p_window_ms int, p_elapsed_ms bigint)
returns bigint
language sql
immutable
parallel safe
as $$
  select (p_previous::bigint * (p_window_ms - p_elapsed_ms) + p_window_ms - 1) / p_window_ms
$$;

comment on function private.sliding_window_weighted(int, int, bigint) is
  'The previous window''s count weighted by the part still inside the sliding window, rounded up.';
