-- Records the outcome of a domain's TXT check: verified (once, and only if no
-- other organization verified it first) or why not.
create or replace function private.record_sso_domain_check(
  p_org_id uuid,
  p_domain text,
  p_verified boolean,
  p_error text default null
)
returns public.sso_domains
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row public.sso_domains;
begin
  update public.sso_domains d set
    verified_at = case when p_verified then coalesce(d.verified_at, now()) else d.verified_at end,
    last_checked_at = now(),
    last_check_error = case when p_verified then null else left(p_error, 500) end
  where d.org_id = p_org_id and d.domain = lower(btrim(p_domain))
  returning * into v_row;
  if v_row.org_id is null then
    raise exception 'domain not found' using errcode = 'PT404', detail = 'field: domain';
  end if;
  return v_row;
exception when unique_violation then
  raise exception 'another organization has verified this domain' using errcode = '23505', detail = 'field: domain';
end;
$$;

comment on function private.record_sso_domain_check(uuid, text, boolean, text) is
  'Marks a claimed SSO domain verified (first organization only) or records why its TXT check failed.';

grant execute on function private.record_sso_domain_check(uuid, text, boolean, text) to service_role;
