-- Exchanges a refresh token for its child (rotation) and returns what a new
-- access token needs. A token already used is a sign that it was copied:
-- unless it was used within p_reuse_interval and its child was never used (a
-- client retrying a response it lost: it gets a new child, the unused one
-- dropped), the whole session is revoked and audited at risk high. A revoked,
-- expired or deactivated member's session refreshes no more. A refusal is a
-- row with `error` set and nothing else, not an exception: an exception would
-- roll back the revocation it comes with. The function answers it 400
-- invalid_grant.
create or replace function private.refresh_sso_session(
  p_refresh_token text,
  p_reuse_interval interval default '10 seconds'
)
returns table (session_id uuid, org_id uuid, user_id uuid, connection_id uuid, aal text, amr jsonb,
               email text, refresh_token text, error text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_token private.sso_refresh_tokens;
  v_child private.sso_refresh_tokens;
  v_session public.sso_sessions;
  v_next text := private.new_refresh_token();
begin
  select * into v_token from private.sso_refresh_tokens t
  where t.token_hash = extensions.digest(coalesce(p_refresh_token, ''), 'sha256')
  for update;
  if v_token.token_hash is null then
    error := 'invalid refresh token';
    return next;
    return;
  end if;
  select * into v_session from public.sso_sessions s
  where s.org_id = v_token.org_id and s.id = v_token.session_id
  for update;
  if v_session.revoked_at is not null then
    error := format('the session was revoked (%s)', v_session.revoked_reason);
    return next;
    return;
  end if;
  if v_session.expires_at <= now() then
    error := 'the session has ended';
    return next;
    return;
  end if;
  if not exists (select 1 from public.organization_members m
                 where m.org_id = v_session.org_id and m.user_id = v_session.user_id and m.status = 'active') then
    perform private.revoke_sso_sessions(v_session.org_id, v_session.user_id, v_session.id, 'member not active');
    error := 'the member is not active in the organization';
    return next;
    return;
  end if;

  -- REUSE
  if v_token.used_at is not null then
    select * into v_child from private.sso_refresh_tokens c where c.parent_hash = v_token.token_hash;
    if v_token.used_at > now() - p_reuse_interval and v_child.used_at is null then
      delete from private.sso_refresh_tokens c where c.token_hash = v_child.token_hash;
    else
      perform private.revoke_sso_sessions(v_session.org_id, v_session.user_id, v_session.id,
                                          'refresh token reused');
      error := 'refresh token reused: the session is revoked';
      return next;
      return;
    end if;
  end if;

  -- ROTATE
  update private.sso_refresh_tokens t set used_at = coalesce(t.used_at, now())
  where t.token_hash = v_token.token_hash;
  insert into private.sso_refresh_tokens (token_hash, org_id, session_id, parent_hash)
  values (extensions.digest(v_next, 'sha256'), v_session.org_id, v_session.id, v_token.token_hash);
  update public.sso_sessions s set refreshed_at = now() where s.org_id = v_session.org_id and s.id = v_session.id;

  return query
  select v_session.id, v_session.org_id, v_session.user_id, v_session.connection_id, v_session.aal,
         v_session.amr, u.email::text, v_next, null::text
  from auth.users u where u.id = v_session.user_id;
end;
$$;

comment on function private.refresh_sso_session(text, interval) is
  'Rotates an SSO refresh token; a reused one (past the reuse interval) revokes the whole session.';

grant execute on function private.refresh_sso_session(text, interval) to service_role;
