-- An admin of the organization (members:manage) unlocks a member's MFA
-- factors: the failures are cleared. Audited.
create or replace function public.unlock_mfa(p_org_id uuid, p_user_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'members:manage');
  if not exists (select 1 from public.organization_members m
                 where m.org_id = p_org_id and m.user_id = p_user_id) then
    raise exception 'member not found' using errcode = 'PT404', detail = 'field: user_id';
  end if;
  delete from private.mfa_failures f where f.user_id = p_user_id;
  perform private.append_audit(p_org_id, 'mfa.unlocked', 'organization_members', p_user_id::text,
    null, null, 'high');
end;
$$;

comment on function public.unlock_mfa(uuid, uuid) is
  'Clears a member''s MFA failures, ending a lockout (members:manage); audited.';

grant execute on function public.unlock_mfa(uuid, uuid) to authenticated, service_role;
