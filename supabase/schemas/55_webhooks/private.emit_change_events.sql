-- Trigger on the tables whose changes customers subscribe to: it turns a row
-- change into its webhook event (member.*, api_key.*, profile.merged and
-- profile.unmerged), in the transaction of the change, so an event exists
-- exactly when its change committed. Statement-free rows (a deleted
-- organization's cascade) emit nothing once the organization is gone.
create or replace function private.emit_change_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org uuid := coalesce(new.org_id, old.org_id);
begin
  if not exists (select 1 from public.organizations o where o.id = v_org) then
    return null;
  end if;
  case tg_table_name
  when 'organization_members' then
    if tg_op = 'INSERT' and new.status = 'active' then
      perform private.emit_webhook_event(v_org, 'member.added', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'role', new.role), new.user_id::text);
    elsif tg_op = 'UPDATE' and new.status = 'active' and old.status <> 'active' then
      perform private.emit_webhook_event(v_org, 'member.added', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'role', new.role), new.user_id::text);
    elsif tg_op = 'UPDATE' and old.status = 'active' and new.status <> 'active' then
      perform private.emit_webhook_event(v_org, 'member.removed', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'role', new.role), new.user_id::text);
    elsif tg_op = 'UPDATE' and new.role <> old.role then
      perform private.emit_webhook_event(v_org, 'member.role_changed', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'previous_role', old.role, 'role', new.role),
        new.user_id::text);
    elsif tg_op = 'DELETE' and old.status = 'active' then
      perform private.emit_webhook_event(v_org, 'member.removed', jsonb_build_object(
        'user_id', old.user_id, 'email', old.email, 'role', old.role), old.user_id::text);
    end if;
  when 'api_keys' then
    if tg_op = 'INSERT' then
      perform private.emit_webhook_event(v_org, 'api_key.created', jsonb_build_object(
        'key_id', new.id, 'name', new.name, 'kind', new.kind, 'prefix', new.prefix,
        'scopes', new.scopes, 'rotated_from', new.rotated_from), new.id::text);
    elsif tg_op = 'UPDATE' and new.revoked_at is not null and old.revoked_at is null then
      perform private.emit_webhook_event(v_org, 'api_key.revoked', jsonb_build_object(
        'key_id', new.id, 'name', new.name, 'prefix', new.prefix), new.id::text);
    elsif tg_op = 'UPDATE' and new.replaced_by is not null and old.replaced_by is null then
      perform private.emit_webhook_event(v_org, 'api_key.rotated', jsonb_build_object(
        'key_id', new.id, 'successor_id', new.replaced_by, 'expires_at', new.expires_at), new.id::text);
    end if;
  when 'profile_merges' then
    if tg_op = 'INSERT' then
      perform private.emit_webhook_event(v_org, 'profile.merged', jsonb_build_object(
        'merge_id', new.id, 'winner_id', new.winner_id, 'loser_id', new.loser_id,
        'reason', new.reason), new.winner_id::text);
    elsif tg_op = 'UPDATE' and new.unmerged_at is not null and old.unmerged_at is null then
      perform private.emit_webhook_event(v_org, 'profile.unmerged', jsonb_build_object(
        'merge_id', new.id, 'winner_id', new.winner_id, 'loser_id', new.loser_id), new.winner_id::text);
    end if;
  end case;
  return null;
end;
$$;

comment on function private.emit_change_events() is
  'Trigger: emits member.*, api_key.* and profile.(un)merged webhook events for row changes, in their transaction.';
