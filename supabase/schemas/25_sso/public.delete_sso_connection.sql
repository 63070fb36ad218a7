-- Deletes an SSO connection and its secret (sso:manage). Sessions it started
-- are revoked: their connection no longer vouches for them.
create or replace function public.delete_sso_connection(p_org_id uuid, p_connection_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  delete from public.sso_connections c where c.org_id = p_org_id and c.id = p_connection_id;
  if not found then
    raise exception 'SSO connection not found' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  update public.sso_sessions s set revoked_at = now(), revoked_reason = 'connection deleted'
  where s.org_id = p_org_id and s.connection_id = p_connection_id and s.revoked_at is null;
end;
$$;

comment on function public.delete_sso_connection(uuid, uuid) is
  'Deletes an SSO connection (sso:manage) and revokes the sessions it started.';

grant execute on function public.delete_sso_connection(uuid, uuid) to authenticated, service_role;
