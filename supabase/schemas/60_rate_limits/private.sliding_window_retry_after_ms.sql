-- Milliseconds until a call of p_cost would be admitted, given the state after a
-- denial (current/previous counts of the window `elapsed` ms old). Within this
-- window only the previous window's weight falls; if the current count alone
-- leaves no room, the wait runs into the next window, where today's count
-- becomes the weighted previous one.
create or replace function private.sliding_window_retry_after_ms(
  p_limit int, p_window_ms int, p_current int, p_previous int, p_cost int, p_elapsed_ms bigint)
returns int
language sql
immutable
parallel safe
as $$
  select case
    when private.sliding_window_fits(p_previous, p_current, p_cost, p_limit, p_window_ms,
                                     p_elapsed_ms) then 0
    when p_limit - p_current - p_cost >= 0 then
      -- smallest elapsed e with previous * (window - e) <= budget * window
      (p_window_ms - ((p_limit - p_current - p_cost)::bigint * p_window_ms) / p_previous
       - p_elapsed_ms)::int
    when p_current = 0 then (p_window_ms - p_elapsed_ms)::int
    else
      (p_window_ms - p_elapsed_ms
       + greatest(0, p_window_ms - ((p_limit - p_cost)::bigint * p_window_ms) / p_current))::int
  end
$$;

comment on function private.sliding_window_retry_after_ms(int, int, int, int, int, bigint) is
  'Milliseconds until a denied call of p_cost would fit, from the counts after the denial.';
