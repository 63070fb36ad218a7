-- Sliding-window counts per bucket (see public.check_rate_limit).
-- UNLOGGED: no WAL, so a decision costs no fsync. The price: after a crash the
-- table is empty and every limit starts afresh. That is acceptable for rate
-- limits (they protect over seconds and minutes); quotas, which must survive,
-- live in a logged table (public.usage_counters).
-- fillfactor leaves room for HOT updates: only `key` is indexed and never changes.
create unlogged table private.rate_limit_counters (
  key text primary key,
  window_ms int not null,
  window_index bigint not null,
  current_count int not null,
  previous_count int not null,
  last_allowed boolean not null,
  -- When the last decision was taken (ms since the epoch); the decision
  -- statement reads its own clock back from here (excluded.hit_at_ms).
  hit_at_ms bigint not null
) with (fillfactor = 70);

comment on table private.rate_limit_counters is
  'Sliding-window rate-limit state per bucket. UNLOGGED: lost on crash, limits then reset. RLS on with no policy: only definer functions reach it.';

alter table private.rate_limit_counters enable row level security;
