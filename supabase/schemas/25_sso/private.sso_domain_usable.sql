-- Whether an SSO sign-in may vouch for an address in this domain for this
-- organization: the organization verified it, or verification is off (local
-- development).
create or replace function private.sso_domain_usable(p_org_id uuid, p_domain text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (select 1 from public.sso_domains d
                 where d.org_id = p_org_id and d.domain = lower(p_domain) and d.verified_at is not null)
      or not coalesce((select p.dns_verification_required from private.sso_domain_policy p), true)
$$;

comment on function private.sso_domain_usable(uuid, text) is
  'True when the organization verified the email domain (or DNS verification is off locally).';

grant execute on function private.sso_domain_usable(uuid, text) to service_role;
