-- Creates (p_id null) or replaces a provisioned user from a SCIM User
-- resource: finds the auth user by its email (userName when it is an email,
-- else the primary email) or creates it, makes or updates the membership
-- (role member; active as sent: deactivation revokes the member's sessions),
-- and keeps the resource's attributes. A userName another user of the
-- organization has is a conflict (SQLSTATE 23505: SCIM 409 uniqueness).
-- Returns the resource's id.
create or replace function private.scim_put_user(p_org_id uuid, p_id uuid, p_resource jsonb)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_name text := btrim(p_resource ->> 'userName');
  v_email text;
  v_active boolean := coalesce((p_resource ->> 'active')::boolean, true);
  v_user_id uuid;
  v_row public.scim_users;
begin
  if v_user_name is null or v_user_name = '' then
    raise exception 'userName is required' using errcode = '22023', detail = 'field: userName';
  end if;
  v_email := lower(coalesce(
    case when v_user_name ~ '^[^@\s]+@[^@\s]+$' then v_user_name end,
    (select e ->> 'value' from jsonb_array_elements(coalesce(p_resource -> 'emails', '[]')) e
     order by (e ->> 'primary')::boolean desc nulls last limit 1)));
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+$' then
    raise exception 'a user needs an email: a userName that is one, or emails[]'
      using errcode = '22023', detail = 'field: emails';
  end if;

  if p_id is null then
    if exists (select 1 from public.scim_users u where u.org_id = p_org_id and lower(u.user_name) = lower(v_user_name)) then
      raise exception 'userName % exists', v_user_name using errcode = '23505', detail = 'field: userName';
    end if;
    select u.id into v_user_id from auth.users u where lower(u.email) = v_email limit 1;
    if v_user_id is null then
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                              is_sso_user)
      values (gen_random_uuid(), 'authenticated', 'authenticated', v_email, now(),
              '{"provider": "scim", "providers": ["scim"]}', '{}', true)
      returning id into v_user_id;
    end if;
    insert into public.organization_members (org_id, user_id, role, status, email)
    values (p_org_id, v_user_id, 'member', case when v_active then 'active' else 'deactivated' end::public.member_status,
            v_email)
    on conflict (org_id, user_id) do update
      set status = excluded.status, email = excluded.email;
    insert into public.scim_users (org_id, user_id, user_name, external_id, display_name, attributes)
    values (p_org_id, v_user_id, v_user_name, p_resource ->> 'externalId', p_resource ->> 'displayName',
            p_resource - array['id', 'meta', 'userName', 'externalId', 'displayName', 'active', 'password'])
    returning * into v_row;
    return v_row.id;
  end if;

  update public.scim_users u
  set user_name = v_user_name, external_id = p_resource ->> 'externalId',
      display_name = p_resource ->> 'displayName',
      attributes = p_resource - array['id', 'meta', 'userName', 'externalId', 'displayName', 'active', 'password']
  where u.org_id = p_org_id and u.id = p_id
  returning * into v_row;
  if v_row.id is null then
    raise exception 'User % not found', p_id using errcode = 'PT404', detail = 'field: id';
  end if;
  update public.organization_members m
  set status = case when v_active then 'active' else 'deactivated' end::public.member_status
  where m.org_id = p_org_id and m.user_id = v_row.user_id
    and m.status <> case when v_active then 'active' else 'deactivated' end::public.member_status;
  return v_row.id;
end;
$$;

comment on function private.scim_put_user(uuid, uuid, jsonb) is
  'Creates or replaces a SCIM-provisioned user and its membership from a SCIM User resource; returns its id.';

grant execute on function private.scim_put_user(uuid, uuid, jsonb) to service_role;
