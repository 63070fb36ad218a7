-- Carries a count decided elsewhere into Postgres: when Upstash stops answering,
-- the edge falls back here and first records what Redis had already admitted in
-- this window, so the fallback cannot admit the same capacity twice.
create or replace function private.rate_limit_carry_over(p_key text, p_window_ms int, p_used int)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into private.rate_limit_counters as c
    (key, window_ms, window_index, current_count, previous_count, last_allowed, hit_at_ms)
  select p_key, p_window_ms, t.now_ms / p_window_ms, greatest(p_used, 0), 0, true, t.now_ms
  from (select floor(date_part('epoch', clock_timestamp()) * 1000)::bigint as now_ms) t
  on conflict (key) do update set
    current_count = greatest(private.sliding_window_current(c.window_ms, c.window_index,
                               c.current_count, excluded.window_ms, excluded.window_index),
                             excluded.current_count),
    previous_count = private.sliding_window_previous(c.window_ms, c.window_index, c.current_count,
                       c.previous_count, excluded.window_ms, excluded.window_index),
    window_ms = excluded.window_ms,
    window_index = excluded.window_index,
    hit_at_ms = excluded.hit_at_ms
$$;

comment on function private.rate_limit_carry_over(text, int, int) is
  'Raises a bucket''s count in the current window to p_used (what Redis admitted before a fallback).';

grant execute on function private.rate_limit_carry_over(text, int, int) to service_role;
