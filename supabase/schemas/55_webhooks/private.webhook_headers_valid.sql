-- The check of webhook_endpoints.headers: an object of string values, at most
-- 4 KB, naming none of the headers the dispatcher sets itself (the signature's
-- webhook-*, content-type, content-length) nor hop-by-hop ones.
create or replace function private.webhook_headers_valid(p_headers jsonb)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_typeof(p_headers) = 'object'
     and pg_catalog.octet_length(p_headers::text) <= 4096
     and not exists (
       select 1 from pg_catalog.jsonb_each(p_headers) h
       where pg_catalog.jsonb_typeof(h.value) <> 'string'
          or pg_catalog.lower(h.key) ~ '^(webhook-|content-length$|content-type$|host$|connection$|transfer-encoding$|upgrade$|te$)'
          or h.key !~ '^[A-Za-z0-9!#$%&''*+.^_`|~-]{1,100}$')
$$;

comment on function private.webhook_headers_valid(jsonb) is
  'Whether custom webhook headers are allowed: string values, 4 KB at most, none of the signature or hop-by-hop headers.';

grant execute on function private.webhook_headers_valid(jsonb) to authenticated, service_role;
