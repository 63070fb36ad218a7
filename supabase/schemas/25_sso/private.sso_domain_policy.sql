-- One row: how email domains are verified. On every deployed project a DNS
-- TXT record is required; supabase/seed.sql turns the requirement off for
-- local development, where nobody can publish DNS for a test domain (domains
-- are then usable without a record). `dns_nameserver` (ip:port) sends the
-- lookups to one resolver instead of the system's (a split-horizon resolver,
-- or the DNS server of the tests).
create table private.sso_domain_policy (
  id boolean primary key default true constraint sso_domain_policy_single_row check (id),
  dns_verification_required boolean not null default true,
  dns_nameserver text constraint sso_domain_policy_nameserver_format
    check (dns_nameserver ~ '^[0-9a-fA-F.:]+:[0-9]{1,5}$')
);

comment on table private.sso_domain_policy is
  'One row: whether SSO email domains need a DNS TXT proof (off for local development) and which resolver to ask. RLS on with no policy: only definer functions reach it.';

alter table private.sso_domain_policy enable row level security;
revoke all on private.sso_domain_policy from anon, authenticated, service_role;
