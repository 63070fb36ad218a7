-- An API-key principal is set by edge functions for the transaction
-- (meridian.principal). It is honoured only for trusted roles, so a user session
-- cannot claim to be a key by setting the same variable.
-- PL/pgSQL for the reason given in private.is_trusted_caller.sql.
create or replace function private.api_key_principal()
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return case when private.is_trusted_caller()
    then nullif(current_setting('meridian.principal', true), '')::jsonb
  end;
end;
$$;

comment on function private.api_key_principal() is
  'The API key acting in this transaction (set by an edge function), or null.';

grant execute on function private.api_key_principal() to authenticated, service_role;
