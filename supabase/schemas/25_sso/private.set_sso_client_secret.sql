-- Stores an OIDC connection's client secret, encrypted with p_key (the sso
-- function's key). The function calls it as the signed-in admin: the caller
-- must hold sso:manage in the organization.
create or replace function private.set_sso_client_secret(
  p_org_id uuid,
  p_connection_id uuid,
  p_secret text,
  p_key text
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  if not exists (select 1 from public.sso_connections c
                 where c.org_id = p_org_id and c.id = p_connection_id and c.protocol = 'oidc') then
    raise exception 'OIDC connection not found' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  if p_secret is null or char_length(p_secret) not between 8 and 512 then
    raise exception 'client_secret must be 8 to 512 characters' using errcode = '22023',
      detail = 'field: client_secret';
  end if;
  insert into private.sso_connection_secrets as s (org_id, connection_id, client_secret_encrypted)
  values (p_org_id, p_connection_id, extensions.pgp_sym_encrypt(p_secret, p_key))
  on conflict (org_id, connection_id) do update
    set client_secret_encrypted = excluded.client_secret_encrypted, updated_at = now();
  perform private.append_audit(p_org_id, 'sso_connection.secret_set', 'sso_connections',
    p_connection_id::text, null, null, 'high');
end;
$$;

comment on function private.set_sso_client_secret(uuid, uuid, text, text) is
  'Stores an OIDC client secret encrypted (caller needs sso:manage); audited.';

grant execute on function private.set_sso_client_secret(uuid, uuid, text, text) to authenticated, service_role;
