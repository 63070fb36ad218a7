-- The IdP's callback takes its sign-in request by state: once, and only
-- within 10 minutes. Returns the request with the connection's settings.
create or replace function private.sso_take_signin(p_state text, p_key text)
returns table (org_id uuid, connection_id uuid, nonce text, code_verifier text, redirect_to text,
               app_code_challenge text, oidc_issuer text, oidc_client_id text, client_secret text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_request private.sso_auth_requests;
begin
  delete from private.sso_auth_requests r where r.state = p_state returning * into v_request;
  if v_request.state is null or v_request.created_at < now() - interval '10 minutes' then
    raise exception 'unknown, used or expired sign-in state' using errcode = '28000', detail = 'field: state';
  end if;
  return query
  select v_request.org_id, v_request.connection_id, v_request.nonce, v_request.code_verifier,
         v_request.redirect_to, v_request.app_code_challenge, c.oidc_issuer, c.oidc_client_id,
         (select extensions.pgp_sym_decrypt(s.client_secret_encrypted, p_key)
          from private.sso_connection_secrets s where s.org_id = c.org_id and s.connection_id = c.id)
  from public.sso_connections c where c.org_id = v_request.org_id and c.id = v_request.connection_id;
end;
$$;

comment on function private.sso_take_signin(text, text) is
  'Takes an SSO sign-in request by its state, once and within 10 minutes, with its connection''s IdP settings.';

grant execute on function private.sso_take_signin(text, text) to service_role;
