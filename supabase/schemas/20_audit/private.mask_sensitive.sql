create or replace function private.mask_sensitive(p_value jsonb, p_extra_keys text[] default '{}')
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_keys text[] := array['password', 'secret', 'token', 'api_key', 'key_hash', 'mfa_secret']
                   || coalesce(p_extra_keys, '{}');
  v_result jsonb;
begin
  -- Fast path: most images name no sensitive key at all.
  if p_value is null
     or lower(p_value::text) !~ array_to_string(v_keys, '|') then
    return p_value;
  elsif jsonb_typeof(p_value) = 'object' then
    select coalesce(jsonb_object_agg(e.key,
             case when exists (
                    select 1 from unnest(v_keys) k
                    where lower(e.key) = k or lower(e.key) like '%\_' || k or lower(e.key) like k || '\_%')
                  then to_jsonb('***'::text)
                  else private.mask_sensitive(e.value, p_extra_keys) end), '{}'::jsonb)
      into v_result
    from jsonb_each(p_value) e;
    return v_result;
  elsif jsonb_typeof(p_value) = 'array' then
    select coalesce(jsonb_agg(private.mask_sensitive(e.value, p_extra_keys) order by e.ord), '[]'::jsonb)
      into v_result
    from jsonb_array_elements(p_value) with ordinality e(value, ord);
    return v_result;
  end if;
  return p_value;
end;
$$;

comment on function private.mask_sensitive(jsonb, text[]) is
  'Replaces values of sensitive keys (password, secret, token, api_key, key_hash, mfa_secret, extras; also as _-prefix/suffix) with ***, recursively.';
