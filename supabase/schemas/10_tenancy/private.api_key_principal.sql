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
