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

-- Two demo organizations with a member of every role, so the tenancy model is
-- visible at once. Acme: alice (owner) and acme-{admin,manager,member,readonly};
-- Globex: bob (owner) and globex-{admin,manager,member,readonly}.
insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
select ('00000000-0000-4000-b000-0000000000' || lpad(n::text, 2, '0'))::uuid,
       'authenticated', 'authenticated', email, now(),
       '{"provider": "email", "providers": ["email"]}', jsonb_build_object('full_name', email)
from (values
  (11, 'acme-admin@meridian.local'), (12, 'acme-manager@meridian.local'),
  (13, 'acme-member@meridian.local'), (14, 'acme-readonly@meridian.local'),
  (21, 'globex-admin@meridian.local'), (22, 'globex-manager@meridian.local'),
  (23, 'globex-member@meridian.local'), (24, 'globex-readonly@meridian.local')
) as u (n, email);

insert into public.organizations (id, name, slug, plan, data_region, created_by) values
  ('00000000-0000-4000-c000-00000000ac3e', 'Acme Corp', 'acme', 'professional', 'us-east',
   '00000000-0000-4000-a000-00000000a11c'),
  ('00000000-0000-4000-c000-0000000910be', 'Globex', 'globex', 'starter', 'eu-west',
   '00000000-0000-4000-a000-000000000b0b');

insert into public.workspaces (org_id, id, name, slug) values
  ('00000000-0000-4000-c000-00000000ac3e', '00000000-0000-4000-d000-00000000ac3e', 'Default', 'default'),
  ('00000000-0000-4000-c000-0000000910be', '00000000-0000-4000-d000-0000000910be', 'Default', 'default');

insert into public.organization_members (org_id, user_id, role, status, email)
select o.id, u.id, r.role::public.org_role, 'active', u.email
from (values
  ('acme', 'alice@meridian.local', 'owner'),
  ('acme', 'acme-admin@meridian.local', 'admin'),
  ('acme', 'acme-manager@meridian.local', 'manager'),
  ('acme', 'acme-member@meridian.local', 'member'),
  ('acme', 'acme-readonly@meridian.local', 'read_only'),
  ('globex', 'bob@meridian.local', 'owner'),
  ('globex', 'globex-admin@meridian.local', 'admin'),
  ('globex', 'globex-manager@meridian.local', 'manager'),
  ('globex', 'globex-member@meridian.local', 'member'),
  ('globex', 'globex-readonly@meridian.local', 'read_only')
) as r (org_slug, email, role)
join public.organizations o on o.slug = r.org_slug
join auth.users u on u.email = r.email;

-- A local-only secret key for Acme (all scopes), so API-key calls work at once:
--   curl -H 'x-api-key: mk_test_LocalDemoKeyForAcmeOnly0000000' ...
-- Never use a known key outside local development.
insert into public.api_keys (org_id, id, name, kind, environment, scopes, prefix, last_four, created_by)
select '00000000-0000-4000-c000-00000000ac3e', '00000000-0000-4000-e000-00000000ac3e',
       'Local demo key', 'secret', 'test', array_agg(key order by key),
       'mk_test_Loca', '0000', '00000000-0000-4000-a000-00000000a11c'
from public.permissions;
insert into private.api_key_secrets (key_hash, org_id, key_id) values (
  extensions.digest('mk_test_LocalDemoKeyForAcmeOnly0000000', 'sha256'),
  '00000000-0000-4000-c000-00000000ac3e', '00000000-0000-4000-e000-00000000ac3e');

-- A demo source with a local-only write key, printed by `npm run dev`, so events
-- can be sent at once:
--   curl -u wk_test_LocalDemoWriteKeyForAcme00000: http://127.0.0.1:54321/functions/v1/ingest/v1/track ...
insert into public.sources (org_id, id, name, kind) values
  ('00000000-0000-4000-c000-00000000ac3e', '00000000-0000-4000-f000-00000000ac3e', 'Acme website', 'web');
insert into public.api_keys (org_id, id, name, kind, environment, scopes, prefix, last_four,
                             source_id, created_by)
values ('00000000-0000-4000-c000-00000000ac3e', '00000000-0000-4000-e000-0000000000a1',
        'Local demo write key', 'write', 'test', array['events:write'], 'wk_test_Loca', '0000',
        '00000000-0000-4000-f000-00000000ac3e', '00000000-0000-4000-a000-00000000a11c');
insert into private.api_key_secrets (key_hash, org_id, key_id) values (
  extensions.digest('wk_test_LocalDemoWriteKeyForAcme00000', 'sha256'),
  '00000000-0000-4000-c000-00000000ac3e', '00000000-0000-4000-e000-0000000000a1');

-- Local receivers listen on loopback over plain http: allow them here, and only
-- here (a deployed project keeps https to public addresses only).
update private.webhook_delivery_policy set allow_insecure_destinations = true;

-- Nobody can publish a DNS TXT record for a local test domain: SSO email
-- domains are usable here without one (a deployed project requires it).
update private.sso_domain_policy set dns_verification_required = false;
