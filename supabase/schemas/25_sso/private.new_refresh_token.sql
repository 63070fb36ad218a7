-- An opaque refresh token: 32 random bytes, base64url.
create or replace function private.new_refresh_token()
returns text
language sql
volatile
set search_path = ''
as $$
  select pg_catalog.translate(pg_catalog.rtrim(pg_catalog.encode(extensions.gen_random_bytes(32), 'base64'), '='),
                              '+/', '-_')
$$;

comment on function private.new_refresh_token() is
  'A new opaque refresh token (32 random bytes, base64url).';
