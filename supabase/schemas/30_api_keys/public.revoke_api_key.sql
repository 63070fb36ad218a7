create or replace function public.revoke_api_key(p_org_id uuid, p_key_id uuid)
returns public.api_keys
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key public.api_keys;
begin
  perform private.require_permission(p_org_id, 'api_keys:manage');
  update public.api_keys k set revoked_at = coalesce(k.revoked_at, now())
  where k.org_id = p_org_id and k.id = p_key_id
  returning * into v_key;
  if v_key.id is null then
    raise exception 'API key not found' using errcode = 'PT404', detail = 'field: key_id';
  end if;
  return v_key;
end;
$$;

comment on function public.revoke_api_key(uuid, uuid) is 'Revokes an API key at once (api_keys:manage).';

grant execute on function public.revoke_api_key(uuid, uuid) to authenticated, service_role;
