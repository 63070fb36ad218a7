-- One row: whether endpoints may point at plain http and private addresses.
-- Off on every deployed project (https to public unicast addresses only, the
-- SSRF defence); supabase/seed.sql turns it on for local development, where
-- receivers listen on loopback. One switch: the dispatcher reads it with each
-- claim and applies it at every send.
create table private.webhook_delivery_policy (
  id boolean primary key default true constraint webhook_delivery_policy_single_row check (id),
  allow_insecure_destinations boolean not null default false
);

comment on table private.webhook_delivery_policy is
  'One row: whether webhook endpoints may use plain http and private addresses (local development only). RLS on with no policy: only definer functions reach it.';

alter table private.webhook_delivery_policy enable row level security;
revoke all on private.webhook_delivery_policy from anon, authenticated, service_role;
