-- How long after a failed attempt the next one is made. Svix's schedule: 5 s,
-- 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the 1st to 7th failure, each with
-- +-20% jitter (p_jitter, from -1 to 1: callers pass random() * 2 - 1, tests a
-- fixed value), at least 60 s after a timeout or a 429, and never sooner than
-- a Retry-After the receiver sent (capped at a day).
create or replace function private.webhook_retry_delay(
  p_failures int,
  p_error_class text default null,
  p_status_code int default null,
  p_retry_after_s int default null,
  p_jitter double precision default 0
)
returns interval
language sql
immutable
set search_path = ''
as $$
  select greatest(
    (array[5, 300, 1800, 7200, 18000, 36000, 36000])[least(greatest(p_failures, 1), 7)]
      * (1 + 0.2 * least(greatest(coalesce(p_jitter, 0), -1), 1)),
    case when p_error_class = 'timeout' or p_status_code = 429 then 60 else 0 end,
    least(coalesce(p_retry_after_s, 0), 86400)
  ) * interval '1 second'
$$;

comment on function private.webhook_retry_delay(int, text, int, int, double precision) is
  'Delay before the next webhook attempt: Svix''s 5s, 5m, 30m, 2h, 5h, 10h, 10h with +-20% jitter; >= 60 s after a timeout or 429; honours a longer Retry-After (<= 1 day).';
