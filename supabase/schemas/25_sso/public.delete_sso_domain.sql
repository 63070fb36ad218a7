-- Gives up an email domain (sso:manage): its members can no longer sign in
-- through SSO with addresses in it.
create or replace function public.delete_sso_domain(p_org_id uuid, p_domain text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  delete from public.sso_domains d where d.org_id = p_org_id and d.domain = lower(btrim(p_domain));
  if not found then
    raise exception 'domain not found' using errcode = 'PT404', detail = 'field: domain';
  end if;
end;
$$;

comment on function public.delete_sso_domain(uuid, text) is
  'Removes an SSO email domain of the organization (sso:manage).';

grant execute on function public.delete_sso_domain(uuid, text) to authenticated, service_role;
