-- Starts a sign-in through a connection: checks it is enabled and that
-- redirect_to is one of its allowed URLs, records the request's state, nonce
-- and PKCE verifier (single use), and returns what the sso function needs to
-- send the browser to the IdP, the client secret decrypted with p_key.
create or replace function private.sso_begin_signin(
  p_connection_id uuid,
  p_redirect_to text,
  p_app_code_challenge text,
  p_state text,
  p_nonce text,
  p_code_verifier text,
  p_key text
)
returns table (org_id uuid, protocol text, oidc_issuer text, oidc_client_id text, client_secret text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_connection public.sso_connections;
begin
  select * into v_connection from public.sso_connections c where c.id = p_connection_id and c.enabled;
  if v_connection.id is null then
    raise exception 'SSO connection not found or disabled' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  if p_redirect_to is null or p_redirect_to <> all (v_connection.allowed_redirect_urls) then
    raise exception 'redirect_to is not one of the connection''s allowed URLs'
      using errcode = '22023', detail = 'field: redirect_to';
  end if;
  if p_app_code_challenge is null or p_app_code_challenge !~ '^[A-Za-z0-9_-]{43}$' then
    raise exception 'code_challenge must be an S256 PKCE challenge (43 base64url characters)'
      using errcode = '22023', detail = 'field: code_challenge';
  end if;
  delete from private.sso_auth_requests r where r.created_at < now() - interval '10 minutes';
  insert into private.sso_auth_requests (state, org_id, connection_id, nonce, code_verifier, redirect_to,
                                         app_code_challenge)
  values (p_state, v_connection.org_id, v_connection.id, p_nonce, p_code_verifier, p_redirect_to,
          p_app_code_challenge);
  return query
  select v_connection.org_id, v_connection.protocol, v_connection.oidc_issuer, v_connection.oidc_client_id,
         (select extensions.pgp_sym_decrypt(s.client_secret_encrypted, p_key)
          from private.sso_connection_secrets s
          where s.org_id = v_connection.org_id and s.connection_id = v_connection.id);
end;
$$;

comment on function private.sso_begin_signin(uuid, text, text, text, text, text, text) is
  'Records an SSO sign-in in flight (state, nonce, PKCE) for an enabled connection and an allowed redirect; returns the IdP settings.';

grant execute on function private.sso_begin_signin(uuid, text, text, text, text, text, text) to service_role;
