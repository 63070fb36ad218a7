-- The email domains an organization has proved it holds, by a DNS TXT record
-- (`_meridian-verification.<domain>` = `meridian-verification=<token>`),
-- checked by the sso function (POST /sso/domains/verify). An SSO sign-in is
-- accepted only for an email in a verified domain of the organization, so an
-- IdP cannot vouch for addresses its organization does not own. One
-- organization per verified domain. Readable and managed with sso:manage.
create table public.sso_domains (
  org_id uuid not null references public.organizations (id) on delete cascade,
  domain text not null constraint sso_domains_domain_format
    check (domain ~ '^[a-z0-9-]+(\.[a-z0-9-]+)+$' and char_length(domain) <= 253),
  verification_token text not null default encode(extensions.gen_random_bytes(16), 'hex'),
  verified_at timestamptz,
  last_checked_at timestamptz,
  last_check_error text,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (org_id, domain)
);

comment on table public.sso_domains is
  'Email domains an organization claims for SSO and whether a DNS TXT record proved it; one organization per verified domain.';

create unique index sso_domains_verified_once on public.sso_domains (domain) where verified_at is not null;
create index sso_domains_created_by_idx on public.sso_domains (created_by) where created_by is not null;

create trigger sso_domains_audit after insert or update or delete on public.sso_domains
  for each row execute function private.audit_row_change('org_id', 'domain', 'high');

revoke all on public.sso_domains from anon, authenticated, service_role;
grant select on public.sso_domains to authenticated, service_role;

alter table public.sso_domains enable row level security;

create policy "SSO managers can read their organization's domains"
  on public.sso_domains for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('sso:manage'))::uuid[]));
