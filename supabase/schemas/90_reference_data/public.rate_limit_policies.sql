-- The default rate limits of each plan, and the limits that apply when no plan is known.
-- Organization and API-key overrides are rows Meridian's operators add (service
-- role). Segment publishes about 1,000 requests/s per workspace for its tracking
-- API (the ingest rows); the other functions are management APIs, limited per
-- caller.
insert into public.rate_limit_policies (plan, org_id, api_key_id, scope, endpoint, request_limit, window_ms) values
  ('free', null, null, 'org', 'ingest', 100, 1000),
  ('free', null, null, 'api_key', '*', 10, 1000),
  ('free', null, null, 'user', '*', 10, 1000),
  ('starter', null, null, 'org', 'ingest', 250, 1000),
  ('starter', null, null, 'api_key', '*', 25, 1000),
  ('starter', null, null, 'user', '*', 20, 1000),
  ('professional', null, null, 'org', 'ingest', 500, 1000),
  ('professional', null, null, 'api_key', '*', 50, 1000),
  ('professional', null, null, 'user', '*', 40, 1000),
  ('enterprise', null, null, 'org', 'ingest', 1000, 1000),
  ('enterprise', null, null, 'api_key', '*', 100, 1000),
  ('enterprise', null, null, 'user', '*', 80, 1000),
  (null, null, null, 'ip', '*', 20, 1000),
  (null, null, null, 'user', '*', 10, 1000)
on conflict on constraint rate_limit_policies_unique do update set
  request_limit = excluded.request_limit,
  window_ms = excluded.window_ms;
