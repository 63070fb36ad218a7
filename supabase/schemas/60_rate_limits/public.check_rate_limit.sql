-- The rate-limit decision: a sliding window, as @upstash/ratelimit's
-- slidingWindow. Windows are aligned to the epoch, and a call is admitted when
--   ceil(previous * (window - elapsed) / window) + current + cost <= limit
-- where previous is the last window's count. Chosen over GCRA because it is
-- the Upstash path's algorithm, so both paths answer alike and a fallback from
-- Redis can carry the count over (rate_limit_carry_over); and because it never
-- admits more than the limit in any fixed window, which is what a plan
-- promises ("1000 requests per second").
--
-- One plpgsql function holding one statement. The decision is on the hot path of
-- every request and each call is its own transaction, where plpgsql re-prepares
-- every expression it evaluates: so the clock and all the arithmetic live in the
-- statement, and only the argument check is a plpgsql expression. Tests move
-- time by ageing a bucket's stored window (whole windows) and check the
-- within-window arithmetic on the pure sliding_window_* helpers at fixed
-- instants.
create or replace function public.check_rate_limit(
  p_key text, p_limit int, p_window_ms int, p_cost int default 1,
  out allowed boolean, out remaining int, out reset_at timestamptz, out retry_after_ms int)
language plpgsql
security definer
set search_path = ''
as $$
begin
  if coalesce(not (p_key <> '' and p_limit >= 1 and p_window_ms >= 1
                   and p_cost between 1 and p_limit), true) then
    if p_key is null or p_key = '' then
      raise exception 'p_key must be a non-empty text' using errcode = '22023';
    elsif p_limit is null or p_limit < 1 then
      raise exception 'p_limit must be at least 1, got %', p_limit using errcode = '22023';
    elsif p_window_ms is null or p_window_ms < 1 then
      raise exception 'p_window_ms must be at least 1, got %', p_window_ms using errcode = '22023';
    else
      raise exception 'p_cost must be between 1 and p_limit (%), got %', p_limit, p_cost
        using errcode = '22023';
    end if;
  end if;

  -- ONE STATEMENT: the row lock ON CONFLICT takes serializes callers of one key,
  -- and each sees the count its predecessor committed, so concurrent callers
  -- can never admit more than the limit. A denied call rewrites the counts
  -- unchanged (moved to this window) and consumes nothing. SET cannot name
  -- another SET, hence the helpers (inlined) appear more than once.
  -- Elapsed time in the window is excluded.hit_at_ms - excluded.window_index * window.
  insert into private.rate_limit_counters as c
    (key, window_ms, window_index, current_count, previous_count, last_allowed, hit_at_ms)
  select p_key, p_window_ms, t.now_ms / p_window_ms, p_cost, 0, true, t.now_ms
  -- date_part is float8 arithmetic, cheaper than extract's numeric, and exact
  -- to the microsecond at today's epoch.
  from (select floor(date_part('epoch', clock_timestamp()) * 1000)::bigint as now_ms) t
  on conflict (key) do update set
    window_ms = excluded.window_ms,
    window_index = excluded.window_index,
    hit_at_ms = excluded.hit_at_ms,
    previous_count = private.sliding_window_previous(c.window_ms, c.window_index, c.current_count,
                       c.previous_count, excluded.window_ms, excluded.window_index),
    current_count = private.sliding_window_current(c.window_ms, c.window_index, c.current_count,
                      excluded.window_ms, excluded.window_index)
      + case when private.sliding_window_fits(
                    private.sliding_window_previous(c.window_ms, c.window_index, c.current_count,
                      c.previous_count, excluded.window_ms, excluded.window_index),
                    private.sliding_window_current(c.window_ms, c.window_index, c.current_count,
                      excluded.window_ms, excluded.window_index),
                    p_cost, p_limit, p_window_ms,
                    excluded.hit_at_ms - excluded.window_index * p_window_ms)
             then p_cost else 0 end,
    last_allowed = private.sliding_window_fits(
                     private.sliding_window_previous(c.window_ms, c.window_index, c.current_count,
                       c.previous_count, excluded.window_ms, excluded.window_index),
                     private.sliding_window_current(c.window_ms, c.window_index, c.current_count,
                       excluded.window_ms, excluded.window_index),
                     p_cost, p_limit, p_window_ms,
                     excluded.hit_at_ms - excluded.window_index * p_window_ms)
  returning c.last_allowed,
            greatest(0, p_limit - c.current_count
                        - private.sliding_window_weighted(c.previous_count, p_window_ms,
                                                          c.hit_at_ms - c.window_index * p_window_ms)),
            -- When the current window ends and its count starts to decay, as Upstash reports.
            to_timestamp(((c.window_index + 1) * p_window_ms)::float8 / 1000),
            case when c.last_allowed then 0
                 else private.sliding_window_retry_after_ms(p_limit, p_window_ms, c.current_count,
                        c.previous_count, p_cost, c.hit_at_ms - c.window_index * p_window_ms) end
  into allowed, remaining, reset_at, retry_after_ms;
end;
$$;

comment on function public.check_rate_limit(text, int, int, int) is
  'Admits p_cost units on bucket p_key if the sliding window of p_window_ms allows p_limit; a denial consumes nothing.';

revoke execute on function public.check_rate_limit(text, int, int, int) from public, anon, authenticated;

grant execute on function public.check_rate_limit(text, int, int, int) to service_role;
