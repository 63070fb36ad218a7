-- POLICIES ---------------------------------------------------------------------------
create type public.rate_limit_scope as enum ('org', 'api_key', 'ip', 'user');
