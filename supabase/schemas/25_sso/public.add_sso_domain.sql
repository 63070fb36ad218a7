-- Claims an email domain for the organization's SSO (sso:manage) and returns
-- the TXT record that proves it. Claiming again returns the same token. A
-- domain another organization has verified cannot be claimed.
create or replace function public.add_sso_domain(p_org_id uuid, p_domain text)
returns public.sso_domains
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_domain text := lower(btrim(p_domain));
  v_row public.sso_domains;
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  if v_domain is null or v_domain !~ '^[a-z0-9-]+(\.[a-z0-9-]+)+$' or char_length(v_domain) > 253 then
    raise exception 'domain must be a DNS name such as example.com' using errcode = '22023', detail = 'field: domain';
  end if;
  if exists (select 1 from public.sso_domains d
             where d.domain = v_domain and d.org_id <> p_org_id and d.verified_at is not null) then
    raise exception 'another organization has verified this domain' using errcode = '23505', detail = 'field: domain';
  end if;
  insert into public.sso_domains (org_id, domain, created_by) values (p_org_id, v_domain, auth.uid())
  on conflict (org_id, domain) do nothing;
  select * into v_row from public.sso_domains d where d.org_id = p_org_id and d.domain = v_domain;
  return v_row;
end;
$$;

comment on function public.add_sso_domain(uuid, text) is
  'Claims an email domain for SSO (sso:manage); returns its verification token for the TXT record _meridian-verification.<domain>.';

grant execute on function public.add_sso_domain(uuid, text) to authenticated, service_role;
