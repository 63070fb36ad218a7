-- What the sso function needs to check a domain's TXT record: its token, and
-- the policy (whether DNS is asked at all, and which resolver). Only for a
-- domain the organization claimed.
create or replace function private.sso_domain_check(p_org_id uuid, p_domain text)
returns table (verification_token text, verified_at timestamptz, dns_verification_required boolean,
               dns_nameserver text)
language sql
stable
security definer
set search_path = ''
as $$
  select d.verification_token, d.verified_at, coalesce(p.dns_verification_required, true), p.dns_nameserver
  from public.sso_domains d
  left join private.sso_domain_policy p on true
  where d.org_id = p_org_id and d.domain = lower(btrim(p_domain))
$$;

comment on function private.sso_domain_check(uuid, text) is
  'The verification token of a claimed SSO domain and the DNS policy to check it with.';

grant execute on function private.sso_domain_check(uuid, text) to service_role;
