create or replace function public.rotate_api_key(p_org_id uuid, p_key_id uuid, p_grace interval default '24 hours')
returns table (id uuid, secret text, prefix text, old_key_expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_old public.api_keys;
  v_issued record;
  v_missing text;
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'api_keys:manage');
  if p_grace is null or p_grace not between '0 seconds' and '30 days' then
    raise exception 'grace must be between 0 and 30 days' using errcode = '22023', detail = 'field: grace';
  end if;
  select * into v_old from public.api_keys k where k.org_id = p_org_id and k.id = p_key_id for update;
  if v_old.id is null then
    raise exception 'API key not found' using errcode = 'PT404', detail = 'field: key_id';
  end if;
  if v_old.revoked_at is not null or (v_old.expires_at is not null and v_old.expires_at <= now()) then
    raise exception 'a revoked or expired key cannot be rotated' using errcode = '22023', detail = 'field: key_id';
  end if;
  if v_old.replaced_by is not null then
    raise exception 'this key was already rotated' using errcode = '22023', detail = 'field: key_id';
  end if;
  -- The successor's secret goes to the caller, so the caller must hold every
  -- scope it carries, as create_api_key requires: otherwise an admin rotating
  -- an owner's key would receive org:delete and billing:manage.
  select s into v_missing from unnest(v_old.scopes) s
  where s <> all (private.caller_permissions(p_org_id)) order by s limit 1;
  if v_missing is not null then
    raise exception 'cannot rotate a key with scope "%" that the caller does not hold', v_missing
      using errcode = '42501', detail = 'field: key_id';
  end if;

  -- SUCCESSOR, THEN GRACE FOR THE OLD KEY
  v_old.rotated_from := v_old.id;
  select * into v_issued from private.issue_api_key(v_old);
  update public.api_keys k
  set expires_at = least(coalesce(k.expires_at, 'infinity'), now() + p_grace),
      replaced_by = v_issued.id
  where k.org_id = p_org_id and k.id = p_key_id
  returning k.expires_at into old_key_expires_at;

  id := v_issued.id;
  secret := v_issued.secret;
  prefix := left(v_issued.secret, 12);
  return next;
end;
$$;

comment on function public.rotate_api_key(uuid, uuid, interval) is
  'Creates a successor key (returned once) and lets the old one work for a grace period (default 24 h).';

grant execute on function public.rotate_api_key(uuid, uuid, interval) to authenticated, service_role;
