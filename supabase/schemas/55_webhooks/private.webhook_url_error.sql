-- What is wrong with an endpoint URL, as "rule: message", or null. The first
-- line of the SSRF defence, at creation: https only; no credentials; no IP
-- literal outside public unicast space (the reserved blocks of RFC 6890 and
-- the IPv6 transition forms that embed an IPv4 address); no numeric host that
-- a URL parser would read as an address (http://2130706433/ is 127.0.0.1).
-- Postgres cannot resolve host names: a name that resolves to a private
-- address is refused by the dispatcher, which checks every resolved address
-- with ipaddr.js before each send (supabase/functions/_shared/ssrf.ts).
-- With private.webhook_delivery_policy's local development switch, http and
-- private addresses pass.
create or replace function private.webhook_url_error(p_url text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_allow boolean := coalesce((select p.allow_insecure_destinations from private.webhook_delivery_policy p), false);
  v_parts text[] := regexp_match(p_url, '^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)');
  v_authority text;
  v_host text;
  v_addr inet;
begin
  if v_parts is null then
    return 'invalid_url: not an absolute URL';
  end if;
  if lower(v_parts[1]) not in ('https', 'http') or (lower(v_parts[1]) = 'http' and not v_allow) then
    return 'https_only: webhook endpoints must use https://';
  end if;
  v_authority := v_parts[2];
  if position('@' in v_authority) > 0 then
    return 'credentials_in_url: put credentials in custom headers, not the URL';
  end if;
  v_host := lower(coalesce((regexp_match(v_authority, '^\[([^\]]+)\]'))[1],
                           (regexp_match(v_authority, '^([^:]*)'))[1]));
  if v_host is null or v_host = '' then
    return 'invalid_url: no host';
  end if;
  if v_allow then
    return null;
  end if;
  if v_host ~ '^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$' and v_host !~ '^\d+\.\d+\.\d+\.\d+$' then
    return 'address_range:numeric_host: a numeric host name is read as an address; use the dotted form or a name';
  end if;
  if v_host = 'localhost' or v_host like '%.localhost' or v_host like '%.internal' or v_host like '%.local' then
    return 'address_range:private_name: the host name is reserved for private networks';
  end if;
  begin
    v_addr := v_host::inet;
  exception when invalid_text_representation then
    return null;  -- a name: checked against its addresses at every send
  end;
  if exists (
    select 1 from unnest(array[
      '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
      '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
      '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
      '::/128', '::1/128', '::ffff:0:0/96', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64',
      '2001::/32', '2001:db8::/32', '2002::/16', 'fc00::/7', 'fe80::/10', 'ff00::/8']::cidr[]) n
    where v_addr <<= n
  ) then
    return format('address_range:reserved: %s is not a public unicast address', host(v_addr));
  end if;
  return null;
end;
$$;

comment on function private.webhook_url_error(text) is
  'Why an endpoint URL is refused ("rule: message"), or null: https only, no credentials, no reserved or numeric address literal.';

grant execute on function private.webhook_url_error(text) to authenticated, service_role;
