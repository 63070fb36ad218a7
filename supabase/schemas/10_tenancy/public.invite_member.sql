create or replace function public.invite_member(
  p_org_id uuid,
  p_email text,
  p_role public.org_role default 'member',
  p_expires_in interval default '7 days'
)
returns table (invitation_id uuid, token text, expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
  v_email text := lower(btrim(p_email));
  v_token text;
  v_invitation public.invitations;
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'members:manage');
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception 'email is not a valid address' using errcode = '22023', detail = 'field: email';
  end if;
  if p_role = 'owner' and not private.is_active_owner(p_org_id, v_uid) then
    raise exception 'only an owner can invite an owner' using errcode = '42501', detail = 'field: role';
  end if;
  if not private.email_domain_allowed(p_org_id, v_email) then
    raise exception 'email domain of % is not allowed in this organization', v_email
      using errcode = '22023', detail = 'field: email';
  end if;
  if p_expires_in is null or p_expires_in not between '1 hour' and '30 days' then
    raise exception 'expires_in must be between 1 hour and 30 days'
      using errcode = '22023', detail = 'field: expires_in';
  end if;
  if exists (select 1 from public.organization_members m
             where m.org_id = p_org_id and lower(m.email) = v_email and m.status = 'active') then
    raise exception '% is already a member', v_email using errcode = '23505', detail = 'field: email';
  end if;

  -- ISSUE: the token is returned once; only its hash is stored.
  v_token := 'inv_' || translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/=', '-_');
  insert into public.invitations (org_id, email, role, invited_by, expires_at)
  values (p_org_id, v_email, p_role, v_uid, now() + p_expires_in)
  returning * into v_invitation;
  insert into private.invitation_tokens (token_hash, org_id, invitation_id)
  values (extensions.digest(v_token, 'sha256'), p_org_id, v_invitation.id);

  invitation_id := v_invitation.id;
  token := v_token;
  expires_at := v_invitation.expires_at;
  return next;
end;
$$;

comment on function public.invite_member(uuid, text, public.org_role, interval) is
  'Invites an email address with a role (members:manage). Returns the token once.';

grant execute on function public.invite_member(uuid, text, public.org_role, interval) to authenticated;
