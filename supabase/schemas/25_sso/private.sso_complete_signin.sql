-- Completes a sign-in the IdP vouched for: the email must be verified and in
-- one of the connection's domains, a domain the organization verified; the user is found by email, or created and
-- made a member when the connection provisions just in time (with the role its
-- groups map to, else its default role); a member who is not active is
-- refused. An MFA the IdP asserted counts as aal2 when the connection says so.
-- Returns a one-time code for the app's PKCE exchange. Audited.
create or replace function private.sso_complete_signin(
  p_org_id uuid,
  p_connection_id uuid,
  p_email text,
  p_email_verified boolean,
  p_groups text[],
  p_idp_mfa boolean,
  p_app_code_challenge text,
  p_idp_subject text default null,
  p_idp_subject_format text default null,
  p_idp_session_id text default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_connection public.sso_connections;
  v_email text := lower(btrim(p_email));
  v_user_id uuid;
  v_member public.organization_members;
  v_role public.org_role;
  v_code text := private.new_refresh_token();
  v_aal text;
begin
  select * into v_connection from public.sso_connections c
  where c.org_id = p_org_id and c.id = p_connection_id and c.enabled;
  if v_connection.id is null then
    raise exception 'the SSO connection is disabled' using errcode = '42501';
  end if;
  if v_email is null or not coalesce(p_email_verified, false) then
    raise exception 'the identity provider did not assert a verified email' using errcode = '42501';
  end if;
  if cardinality(v_connection.allowed_email_domains) > 0
     and split_part(v_email, '@', 2) <> all (v_connection.allowed_email_domains) then
    raise exception 'the email''s domain is not allowed by this connection' using errcode = '42501';
  end if;
  if not private.sso_domain_usable(p_org_id, split_part(v_email, '@', 2)) then
    raise exception 'the email''s domain is not verified by the organization' using errcode = '42501';
  end if;

  select u.id into v_user_id from auth.users u where lower(u.email) = v_email limit 1;
  select * into v_member from public.organization_members m where m.org_id = p_org_id and m.user_id = v_user_id;
  if v_member.user_id is null then
    if not v_connection.jit_provisioning then
      raise exception 'not a member of the organization, and the connection does not provision members'
        using errcode = '42501';
    end if;
    if v_user_id is null then
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                              is_sso_user)
      values (gen_random_uuid(), 'authenticated', 'authenticated', v_email, now(),
              jsonb_build_object('provider', 'sso', 'providers', jsonb_build_array('sso')), '{}', true)
      returning id into v_user_id;
    end if;
    select (v_connection.group_role_map ->> g)::public.org_role into v_role
    from unnest(coalesce(p_groups, '{}')) g
    where v_connection.group_role_map ? g
    order by array_position(array['admin', 'manager', 'member', 'read_only'], v_connection.group_role_map ->> g)
    limit 1;
    insert into public.organization_members (org_id, user_id, role, email)
    values (p_org_id, v_user_id, coalesce(v_role, v_connection.default_role), v_email);
  elsif v_member.status <> 'active' then
    raise exception 'the membership is not active' using errcode = '42501';
  end if;

  v_aal := case when p_idp_mfa and v_connection.idp_mfa_counts then 'aal2' else 'aal1' end;
  insert into private.sso_app_codes (code_hash, org_id, user_id, connection_id, amr, aal, app_code_challenge,
                                     idp_subject, idp_subject_format, idp_session_id)
  values (extensions.digest(v_code, 'sha256'), p_org_id, v_user_id, p_connection_id,
          jsonb_build_array(jsonb_build_object('method', 'sso/' || v_connection.protocol,
            'timestamp', extract(epoch from now())::bigint, 'provider', p_connection_id)),
          v_aal, p_app_code_challenge, p_idp_subject, p_idp_subject_format, p_idp_session_id);
  perform private.append_audit(p_org_id, 'sso.signed_in', 'sso_connections', p_connection_id::text, null,
    jsonb_build_object('email', v_email, 'aal', v_aal, 'provisioned', v_member.user_id is null), 'low', 'success',
    array['auth'], jsonb_build_object('type', 'user', 'user_id', v_user_id, 'email', v_email));
  return v_code;
end;
$$;

comment on function private.sso_complete_signin(uuid, uuid, text, boolean, text[], boolean, text, text, text, text) is
  'Completes an SSO sign-in (verified email in an allowed domain, member or JIT-provisioned); returns a one-time code for the app.';

grant execute on function private.sso_complete_signin(uuid, uuid, text, boolean, text[], boolean, text, text, text, text) to service_role;
