-- The connection that signs in addresses of an email domain (for
-- /sso/authorize?domain=): an enabled connection listing the domain, in an
-- organization that verified it. None, or several (only possible where
-- verification is off, locally): the caller must name the connection.
create or replace function private.sso_connection_for_domain(p_domain text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_ids uuid[];
begin
  select array_agg(c.id order by c.created_at) into v_ids
  from public.sso_connections c
  where c.enabled and lower(btrim(p_domain)) = any (c.allowed_email_domains)
    and private.sso_domain_usable(c.org_id, lower(btrim(p_domain)));
  if v_ids is null then
    raise exception 'no SSO connection signs in this domain' using errcode = 'PT404', detail = 'field: domain';
  end if;
  if cardinality(v_ids) > 1 then
    raise exception 'several SSO connections sign in this domain: name one with connection_id'
      using errcode = '22023', detail = 'field: domain';
  end if;
  return v_ids[1];
end;
$$;

comment on function private.sso_connection_for_domain(text) is
  'The one enabled SSO connection for a verified email domain, for sign-in by domain.';

grant execute on function private.sso_connection_for_domain(text) to service_role;
