-- Whether p_cost more fits under p_limit, p_elapsed_ms into the current window.
create or replace function private.sliding_window_fits(
  p_previous int, p_current int, p_cost int, p_limit int, p_window_ms int, p_elapsed_ms bigint)
returns boolean
language sql
immutable
parallel safe
as $$
  select private.sliding_window_weighted(p_previous, p_window_ms, p_elapsed_ms)
         + p_current + p_cost <= p_limit
$$;

comment on function private.sliding_window_fits(int, int, int, int, int, bigint) is
  'Whether p_cost more fits under p_limit at p_elapsed_ms into the window.';
