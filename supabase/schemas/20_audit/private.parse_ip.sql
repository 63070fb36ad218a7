-- Client IPs come from headers a client can influence; a malformed one must not
-- fail the audited change, so it is dropped instead. Each call is a
-- subtransaction (the EXCEPTION block), so ingest_batch casts a whole batch's
-- addresses at once and falls back to this only when some value is no address.
create or replace function private.parse_ip(p_value text)
returns inet
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or p_value = '' then
    return null;
  end if;
  return p_value::inet;
exception when invalid_text_representation then
  return null;
end;
$$;

comment on function private.parse_ip(text) is 'The value as inet, or null when it is not an IP address.';
