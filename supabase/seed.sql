-- Demo data for local development: two users, each with saved views, so a new
-- developer can mint a token for either and see RLS at work at once.
-- Mint a token: npm run token -- --sub 00000000-0000-4000-a000-00000000a11c --email alice@meridian.local

insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
values
  ('00000000-0000-4000-a000-00000000a11c', 'authenticated', 'authenticated', 'alice@meridian.local', now(),
   '{"provider": "email", "providers": ["email"]}', '{"full_name": "Alice Demo"}'),
  ('00000000-0000-4000-a000-000000000b0b', 'authenticated', 'authenticated', 'bob@meridian.local', now(),
   '{"provider": "email", "providers": ["email"]}', '{"full_name": "Bob Demo"}');

insert into public.saved_views (owner_id, name, definition)
values
  ('00000000-0000-4000-a000-00000000a11c', 'Paid search, last 30 days', '{"channel": "paid_search", "range": "30d"}'),
  ('00000000-0000-4000-a000-00000000a11c', 'Churn risk', '{"segment": "churn_risk"}'),
  ('00000000-0000-4000-a000-000000000b0b', 'EU signups', '{"region": "eu-west", "event": "signup"}');
