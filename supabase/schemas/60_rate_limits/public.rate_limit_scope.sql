-- What one rate-limit bucket counts: the organization, the API key, the client
-- IP or the user.
create type public.rate_limit_scope as enum ('org', 'api_key', 'ip', 'user');
