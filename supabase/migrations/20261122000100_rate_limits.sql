-- Rate limits decided in Postgres: one atomic statement per decision, policies
-- as data (plan defaults, per-org and per-key overrides). Edge functions ask
-- through private.admit_request (see _shared/rate_limit.ts); with Upstash
-- configured they decide bursts in Redis and only read the policy here.
--
-- ALGORITHM: sliding window, as @upstash/ratelimit's slidingWindow: windows are
-- aligned to the epoch, and a call is admitted when
--   ceil(previous * (window - elapsed) / window) + current + cost <= limit
-- where `previous` is the count of the last window weighted by the part of it
-- still inside the sliding window. We chose it over GCRA because it is the
-- algorithm of the Upstash path, so both paths answer the same way and a
-- fallback from Redis to Postgres can carry the count over; and because it
-- never admits more than the limit in any fixed window, which is what a plan
-- promises ("1000 requests per second"). We round the weighted part up where
-- Upstash rounds down, so a fraction of a request never becomes capacity.

-- STATE ------------------------------------------------------------------------------
-- UNLOGGED: no WAL, so a decision costs no fsync. The price: after a crash the
-- table is empty and every limit starts afresh. That is acceptable for rate
-- limits (they protect over seconds and minutes); quotas, which must survive,
-- live in a logged table (plan_quotas migration).
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
  'Sliding-window rate-limit state per bucket. UNLOGGED: lost on crash, limits then reset.';
alter table private.rate_limit_counters enable row level security;

-- The arithmetic of the window, kept pure so tests can check it at fixed instants and
-- the decision statement stays one statement. No SET search_path: these inline.
create function private.sliding_window_weighted(p_previous int, p_window_ms int, p_elapsed_ms bigint)
returns bigint
language sql
immutable
parallel safe
as $$
  select (p_previous::bigint * (p_window_ms - p_elapsed_ms) + p_window_ms - 1) / p_window_ms
$$;
comment on function private.sliding_window_weighted(int, int, bigint) is
  'The previous window''s count weighted by the part still inside the sliding window, rounded up.';

-- Whether p_cost more fits under p_limit, p_elapsed_ms into the current window.
create function private.sliding_window_fits(
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

-- Milliseconds until a call of p_cost would be admitted, given the state after a
-- denial (current/previous counts of the window `elapsed` ms old). Within this
-- window only the previous window's weight falls; if the current count alone
-- leaves no room, the wait runs into the next window, where today's count
-- becomes the weighted previous one.
create function private.sliding_window_retry_after_ms(
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

-- A bucket's stored counts as seen from window p_index (of p_window_ms): the
-- previous window's count is the stored current one if the stored window is
-- the one before, and nothing if older or of another size.
create function private.sliding_window_previous(
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

create function private.sliding_window_current(
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

-- DECISION ---------------------------------------------------------------------------
-- One plpgsql function holding one statement. The decision is on the hot path of
-- every request and each call is its own transaction, where plpgsql re-prepares
-- every expression it evaluates: so the clock and all the arithmetic live in the
-- statement, and only the argument check is a plpgsql expression. Tests move
-- time by ageing a bucket's stored window (whole windows) and check the
-- within-window arithmetic on the pure helpers above at fixed instants.
create function public.check_rate_limit(
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

-- Carries a count decided elsewhere into Postgres: when Upstash stops answering,
-- the edge falls back here and first records what Redis had already admitted in
-- this window, so the fallback cannot admit the same capacity twice.
create function private.rate_limit_carry_over(p_key text, p_window_ms int, p_used int)
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

-- Buckets whose windows have both passed hold nothing the next decision reads.
create function private.sweep_rate_limit_counters()
returns bigint
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from private.rate_limit_counters c
    where (c.window_index + 2) * c.window_ms
          < floor(extract(epoch from clock_timestamp()) * 1000)::bigint
    returning 1)
  select count(*) from gone
$$;
comment on function private.sweep_rate_limit_counters() is
  'Deletes buckets whose current and previous windows have passed; run each minute by pg_cron.';
select cron.schedule('meridian-sweep-rate-limits', '* * * * *',
                     'select private.sweep_rate_limit_counters()');

-- POLICIES ---------------------------------------------------------------------------
create type public.rate_limit_scope as enum ('org', 'api_key', 'ip', 'user');

-- One table, three levels: a row with neither plan nor org is a platform default
-- (callers with no organization, e.g. anonymous IPs); with a plan, that plan's
-- default; with an org, an override for it; with an org and an API key, an
-- override for that key. Overrides are set by Meridian's operators (service
-- role), never by tenants: a tenant narrows a key with api_keys.rate_limit_per_minute.
create table public.rate_limit_policies (
  id uuid primary key default gen_random_uuid(),
  plan public.org_plan,
  org_id uuid references public.organizations (id) on delete cascade,
  api_key_id uuid,
  scope public.rate_limit_scope not null,
  endpoint text not null default '*'
    constraint rate_limit_policies_endpoint_format check (endpoint ~ '^(\*|[a-z0-9][a-z0-9-]*)$'),
  request_limit int not null constraint rate_limit_policies_limit_check check (request_limit > 0),
  window_ms int not null
    constraint rate_limit_policies_window_check check (window_ms between 1000 and 86400000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint rate_limit_policies_level_check check (plan is null or org_id is null),
  constraint rate_limit_policies_key_needs_org check (api_key_id is null or org_id is not null),
  constraint rate_limit_policies_key_scope check (api_key_id is null or scope = 'api_key'),
  constraint rate_limit_policies_api_key_fkey foreign key (org_id, api_key_id)
    references public.api_keys (org_id, id) on delete cascade,
  constraint rate_limit_policies_unique unique nulls not distinct (plan, org_id, api_key_id, scope, endpoint)
);
comment on table public.rate_limit_policies is
  'Rate-limit policies: platform and plan defaults, per-org and per-key overrides (most specific wins).';
comment on column public.rate_limit_policies.scope is
  'What one bucket counts: the organization, the API key, the user, or the client IP.';
comment on column public.rate_limit_policies.endpoint is 'Function name (ingest, audit-export, ...) or * for all.';
create index rate_limit_policies_org_idx on public.rate_limit_policies (org_id) where org_id is not null;
create trigger rate_limit_policies_updated_at before update on public.rate_limit_policies
  for each row execute function private.set_updated_at();

revoke all on public.rate_limit_policies from anon, authenticated, service_role;
grant select on public.rate_limit_policies to authenticated;
grant select, insert, update, delete on public.rate_limit_policies to service_role;
alter table public.rate_limit_policies enable row level security;
create policy "Members read the defaults and their organization's overrides"
  on public.rate_limit_policies for select to authenticated
  using (org_id is null
         or org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

-- Overrides belong to an organization and are audited there; defaults are not.
create trigger rate_limit_policies_audit after insert or update on public.rate_limit_policies
  for each row when (new.org_id is not null)
  execute function private.audit_row_change('org_id', 'id', 'high');
create trigger rate_limit_policies_audit_delete after delete on public.rate_limit_policies
  for each row when (old.org_id is not null)
  execute function private.audit_row_change('org_id', 'id', 'high');

-- Segment publishes about 1,000 requests/s per workspace for its tracking API;
-- the other functions are management APIs, limited per caller.
insert into public.rate_limit_policies (plan, scope, endpoint, request_limit, window_ms) values
  ('free',         'org',     'ingest', 100,  1000),
  ('starter',      'org',     'ingest', 250,  1000),
  ('professional', 'org',     'ingest', 500,  1000),
  ('enterprise',   'org',     'ingest', 1000, 1000),
  ('free',         'api_key', '*',      10,   1000),
  ('starter',      'api_key', '*',      25,   1000),
  ('professional', 'api_key', '*',      50,   1000),
  ('enterprise',   'api_key', '*',      100,  1000),
  ('free',         'user',    '*',      10,   1000),
  ('starter',      'user',    '*',      20,   1000),
  ('professional', 'user',    '*',      40,   1000),
  ('enterprise',   'user',    '*',      80,   1000);
insert into public.rate_limit_policies (scope, endpoint, request_limit, window_ms) values
  ('ip',   '*', 20, 1000),
  ('user', '*', 10, 1000);

-- The policy for a principal ({"kind", "org_id", "key_id", "user_id", "ip"}, as
-- _shared/auth.ts builds it) on an endpoint. Most specific wins: a key override,
-- then an org override, then the org's plan, then the platform default; within a
-- level an exact endpoint beats '*', and a per-caller scope beats 'org'. A scope
-- applies only when the principal has it (no IP bucket without an IP). A tenant's
-- api_keys.rate_limit_per_minute applies when it is stricter than the policy.
create function private.rate_limit_policy_for(p_principal jsonb, p_endpoint text)
returns table (policy_id uuid, scope public.rate_limit_scope, request_limit int, window_ms int,
               bucket text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_org uuid := (p_principal ->> 'org_id')::uuid;
  v_key uuid := (p_principal ->> 'key_id')::uuid;
  v_user uuid := (p_principal ->> 'user_id')::uuid;
  v_ip text := p_principal ->> 'ip';
  v_key_rpm int;
  v_policy public.rate_limit_policies;
begin
  select r.* into v_policy
  from public.rate_limit_policies r
  where r.endpoint in (p_endpoint, '*')
    and (r.api_key_id is null or r.api_key_id = v_key)
    and (r.org_id is null or r.org_id = v_org)
    and (r.plan is null
         or r.plan = (select o.plan from public.organizations o where o.id = v_org))
    and case r.scope
          when 'org' then v_org is not null
          when 'api_key' then v_key is not null
          when 'user' then v_user is not null
          when 'ip' then v_ip is not null
        end
  order by r.api_key_id is not null desc, r.org_id is not null desc, r.plan is not null desc,
           r.endpoint <> '*' desc, r.scope <> 'org' desc
  limit 1;

  if v_key is not null then
    select k.rate_limit_per_minute into v_key_rpm
    from public.api_keys k where k.org_id = v_org and k.id = v_key;
  end if;
  if v_key_rpm is not null
     and (v_policy.id is null
          or v_key_rpm::numeric / 60000 < v_policy.request_limit::numeric / v_policy.window_ms) then
    policy_id := null;
    scope := 'api_key';
    request_limit := v_key_rpm;
    window_ms := 60000;
    bucket := 'key:' || v_key || ':' || p_endpoint || ':per-minute';
    return next;
    return;
  end if;
  if v_policy.id is null then
    return;
  end if;
  policy_id := v_policy.id;
  scope := v_policy.scope;
  request_limit := v_policy.request_limit;
  window_ms := v_policy.window_ms;
  bucket := case v_policy.scope
      when 'org' then 'org:' || v_org
      when 'api_key' then 'key:' || v_key
      when 'user' then 'user:' || v_user
      when 'ip' then 'ip:' || v_ip
    end || ':' || v_policy.endpoint;
  return next;
end;
$$;
comment on function private.rate_limit_policy_for(jsonb, text) is
  'The most specific rate-limit policy for a principal on an endpoint, with its bucket key.';

revoke execute on function public.check_rate_limit(text, int, int, int) from public, anon, authenticated;
grant execute on function
  public.check_rate_limit(text, int, int, int),
  private.rate_limit_carry_over(text, int, int),
  private.rate_limit_policy_for(jsonb, text)
to service_role;
