create or replace function private.new_api_key_secret(p_kind public.api_key_kind, p_environment public.api_key_environment)
returns text
language sql
volatile
set search_path = ''
as $$
  select case p_kind when 'secret' then 'mk_' else 'wk_' end || p_environment::text || '_'
         || translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/=', '-_')
$$;
