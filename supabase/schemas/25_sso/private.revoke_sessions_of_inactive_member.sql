-- Trigger on organization_members: a member who stops being active (or is
-- removed) loses every session in the organization at once.
create or replace function private.revoke_sessions_of_inactive_member()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' then
    perform private.revoke_sso_sessions(old.org_id, old.user_id, null, 'member removed');
  elsif new.status <> 'active' and old.status = 'active' then
    perform private.revoke_sso_sessions(new.org_id, new.user_id, null, 'member deactivated');
  end if;
  return null;
end;
$$;

comment on function private.revoke_sessions_of_inactive_member() is
  'Trigger: revokes a member''s SSO sessions when the membership is deactivated or removed.';
