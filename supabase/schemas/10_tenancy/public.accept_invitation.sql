create or replace function public.accept_invitation(p_token text)
returns public.organization_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
  v_email text := lower(auth.jwt() ->> 'email');
  v_invitation public.invitations;
  v_member public.organization_members;
begin
  select i.* into v_invitation
  from private.invitation_tokens t
  join public.invitations i on i.org_id = t.org_id and i.id = t.invitation_id
  where t.token_hash = extensions.digest(coalesce(p_token, ''), 'sha256')
  for update of i;

  -- VALIDATION
  if v_invitation.id is null then
    raise exception 'invitation not found' using errcode = 'PT404', detail = 'field: token';
  end if;
  if v_invitation.accepted_at is not null or v_invitation.revoked_at is not null then
    raise exception 'invitation is no longer valid' using errcode = '22023', detail = 'field: token';
  end if;
  if v_invitation.expires_at <= now() then
    raise exception 'invitation expired at %', v_invitation.expires_at
      using errcode = '22023', detail = 'field: token';
  end if;
  if v_email is distinct from v_invitation.email then
    raise exception 'invitation was sent to another email address'
      using errcode = '42501', detail = 'field: email';
  end if;
  if not private.email_domain_allowed(v_invitation.org_id, v_email) then
    raise exception 'email domain is not allowed in this organization'
      using errcode = '42501', detail = 'field: email';
  end if;

  -- JOIN (seat limit and owner rules are enforced by the member triggers)
  insert into public.organization_members (org_id, user_id, role, status, email, invited_by)
  values (v_invitation.org_id, v_uid, v_invitation.role, 'active', v_email, v_invitation.invited_by)
  on conflict (org_id, user_id) do update
    set role = excluded.role, status = 'active', email = excluded.email
    where public.organization_members.status <> 'active'
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'already a member of this organization' using errcode = '23505';
  end if;
  update public.invitations set accepted_at = now(), accepted_by = v_uid
  where org_id = v_invitation.org_id and id = v_invitation.id;
  return v_member;
end;
$$;

comment on function public.accept_invitation(text) is
  'Joins the organization of the invitation; the session email must match it.';

grant execute on function public.accept_invitation(text) to authenticated;
