-- A Standard Webhooks secret: whsec_ and the base64 of 32 random bytes.
create or replace function private.new_webhook_secret()
returns text
language sql
volatile
set search_path = ''
as $$
  select 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(32), 'base64')
$$;

comment on function private.new_webhook_secret() is
  'A new webhook signing secret: whsec_ and base64 of 32 random bytes.';
