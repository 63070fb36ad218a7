-- API keys for servers and SDKs, after Stripe's: a visible prefix, the secret
-- shown once, only its SHA-256 kept, rotation with a grace period, immediate
-- revocation. `secret` keys (mk_live_/mk_test_) carry scopes from the permission
-- catalogue; `write` keys (wk_live_/wk_test_) can only send events.

-- SOURCES ---------------------------------------------------------------------------
-- Where events come from (a website, a backend, an app), as in Segment. Write
-- keys are bound to one source, so every event knows its origin.
create type public.source_kind as enum ('web', 'server', 'mobile');

create table public.sources (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  workspace_id uuid,
  name text not null constraint sources_name_length check (char_length(btrim(name)) between 1 and 120),
  kind public.source_kind not null default 'server',
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id),
  foreign key (org_id, workspace_id) references public.workspaces (org_id, id) on delete cascade
);
comment on table public.sources is
  'Event sources (web, server, mobile). Write keys belong to one; a disabled source accepts nothing.';

create trigger sources_set_updated_at before update on public.sources
  for each row execute function private.set_updated_at();
create trigger sources_audit after insert or update or delete on public.sources
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

revoke all on public.sources from anon, authenticated;
grant all on public.sources to service_role;
grant select, insert, delete on public.sources to authenticated;
grant update (name, enabled, workspace_id) on public.sources to authenticated;
alter table public.sources enable row level security;
create policy "Members can read their organization's sources"
  on public.sources for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));
create policy "Admins can create sources"
  on public.sources for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));
create policy "Admins can update sources"
  on public.sources for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));
create policy "Admins can delete sources"
  on public.sources for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

create type public.api_key_kind as enum ('secret', 'write');
create type public.api_key_environment as enum ('live', 'test');

create table public.api_keys (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  workspace_id uuid,
  source_id uuid,
  name text not null constraint api_keys_name_length check (char_length(btrim(name)) between 1 and 120),
  kind public.api_key_kind not null default 'secret',
  environment public.api_key_environment not null default 'live',
  scopes text[] not null default '{}',
  prefix text not null,
  last_four text not null,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  usage_count bigint not null default 0,
  rate_limit_per_minute int constraint api_keys_rate_limit_check
    check (rate_limit_per_minute is null or rate_limit_per_minute > 0),
  allowed_cidrs cidr[],
  rotated_from uuid,
  replaced_by uuid,
  primary key (org_id, id),
  foreign key (org_id, workspace_id) references public.workspaces (org_id, id) on delete cascade,
  foreign key (org_id, source_id) references public.sources (org_id, id) on delete cascade,
  constraint api_keys_write_scope check (kind = 'secret' or scopes = array['events:write']),
  constraint api_keys_write_source check ((kind = 'write') = (source_id is not null))
);
comment on table public.api_keys is
  'Server-to-server keys. The secret is shown once at creation; only its hash is kept (privately).';
comment on column public.api_keys.prefix is 'The first characters of the secret, to recognise a key.';
comment on column public.api_keys.source_id is 'The source a write key sends events for (write keys only).';
comment on column public.api_keys.scopes is 'Permissions the key holds, a subset of the catalogue and of its creator''s.';
comment on column public.api_keys.expires_at is 'Set by rotation (grace period) or at creation; null means no expiry.';
comment on column public.api_keys.usage_count is 'Successful verifications, flushed from a buffer each minute.';
comment on column public.api_keys.rate_limit_per_minute is 'Per-key override of the plan''s rate limit.';
comment on column public.api_keys.allowed_cidrs is 'When set, the key works only from these networks.';
create index api_keys_org_created_idx on public.api_keys (org_id, created_at desc);

-- Hashes live apart from the listing table: no client query can return them.
-- Looked up by hash before the organization is known, hence unique on the hash.
create table private.api_key_secrets (
  key_hash bytea primary key,
  org_id uuid not null,
  key_id uuid not null,
  foreign key (org_id, key_id) references public.api_keys (org_id, id) on delete cascade
);
comment on table private.api_key_secrets is 'SHA-256 of each API key secret, the only form in which secrets are kept.';
alter table private.api_key_secrets enable row level security;

-- Usage is appended here (no hot-row updates on api_keys per request) and folded
-- into api_keys each minute. UNLOGGED: a crash may lose up to a minute of usage
-- counts, never a key or a decision.
create unlogged table private.api_key_usage_buffer (
  org_id uuid not null,
  key_id uuid not null,
  used_at timestamptz not null default now()
);
comment on table private.api_key_usage_buffer is
  'Recent API key uses, folded into api_keys.usage_count/last_used_at by flush_api_key_usage().';
alter table private.api_key_usage_buffer enable row level security;

revoke all on public.api_keys from anon, authenticated;
grant all on public.api_keys to service_role;
grant select on public.api_keys to authenticated;

alter table public.api_keys enable row level security;
create policy "Key managers can list their organization's API keys"
  on public.api_keys for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('api_keys:manage'))::uuid[]));

create trigger api_keys_audit after insert or update or delete on public.api_keys
  for each row execute function private.audit_row_change('org_id', 'id', 'high', 'last_used_at,usage_count');

-- HELPERS ----------------------------------------------------------------------------
create function private.caller_permissions(p_org_id uuid)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when auth.uid() is not null then (
      select coalesce(array_agg(p.key order by p.key), '{}')
      from public.permissions p where private.has_permission(p_org_id, p.key))
    else (
      select coalesce(array_agg(s order by s), '{}')
      from jsonb_array_elements_text(private.api_key_principal() -> 'scopes') s
      where (private.api_key_principal() ->> 'org_id')::uuid = p_org_id)
  end
$$;
comment on function private.caller_permissions(uuid) is
  'Permissions the caller (user or API key) holds in the organization.';
grant execute on function private.caller_permissions(uuid) to authenticated, service_role;

create function private.new_api_key_secret(p_kind public.api_key_kind, p_environment public.api_key_environment)
returns text
language sql
volatile
set search_path = ''
as $$
  select case p_kind when 'secret' then 'mk_' else 'wk_' end || p_environment::text || '_'
         || translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/=', '-_')
$$;

-- Issues a key row and its secret; shared by create and rotate.
create function private.issue_api_key(p_key public.api_keys)
returns table (id uuid, secret text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_secret text := private.new_api_key_secret(p_key.kind, p_key.environment);
begin
  p_key.id := gen_random_uuid();
  p_key.prefix := left(v_secret, 12);
  p_key.last_four := right(v_secret, 4);
  p_key.created_at := now();
  p_key.created_by := auth.uid();
  p_key.usage_count := 0;
  p_key.last_used_at := null;
  p_key.revoked_at := null;
  p_key.replaced_by := null;
  insert into public.api_keys select p_key.*;
  insert into private.api_key_secrets (key_hash, org_id, key_id)
  values (extensions.digest(v_secret, 'sha256'), p_key.org_id, p_key.id);
  id := p_key.id;
  secret := v_secret;
  return next;
end;
$$;

-- RPC -----------------------------------------------------------------------------
create function public.create_api_key(
  p_org_id uuid,
  p_name text,
  p_kind public.api_key_kind default 'secret',
  p_scopes text[] default null,
  p_environment public.api_key_environment default 'live',
  p_workspace_id uuid default null,
  p_expires_at timestamptz default null,
  p_rate_limit_per_minute int default null,
  p_allowed_cidrs cidr[] default null,
  p_source_id uuid default null
)
returns table (id uuid, secret text, prefix text, kind public.api_key_kind, scopes text[],
               expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_held text[];
  v_scopes text[];
  v_unknown text;
  v_key public.api_keys;
  v_issued record;
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'api_keys:manage');
  if p_name is null or char_length(btrim(p_name)) not between 1 and 120 then
    raise exception 'name must be 1 to 120 characters' using errcode = '22023', detail = 'field: name';
  end if;
  if p_expires_at is not null and p_expires_at <= now() then
    raise exception 'expires_at must be in the future' using errcode = '22023', detail = 'field: expires_at';
  end if;
  if p_workspace_id is not null and not exists (
    select 1 from public.workspaces w where w.org_id = p_org_id and w.id = p_workspace_id) then
    raise exception 'workspace not found in this organization'
      using errcode = '22023', detail = 'field: workspace_id';
  end if;
  v_held := private.caller_permissions(p_org_id);
  if (p_kind = 'write') <> (p_source_id is not null) then
    raise exception 'write keys need a source_id, and only write keys take one'
      using errcode = '22023', detail = 'field: source_id';
  end if;
  if p_source_id is not null and not exists (
    select 1 from public.sources so where so.org_id = p_org_id and so.id = p_source_id) then
    raise exception 'source not found in this organization'
      using errcode = '22023', detail = 'field: source_id';
  end if;
  if p_kind = 'write' then
    if p_scopes is not null and p_scopes <> array['events:write'] then
      raise exception 'write keys carry exactly the events:write scope'
        using errcode = '22023', detail = 'field: scopes';
    end if;
    v_scopes := array['events:write'];
  else
    v_scopes := coalesce(p_scopes, v_held);
    select s into v_unknown from unnest(v_scopes) s
    where not exists (select 1 from public.permissions p where p.key = s) limit 1;
    if v_unknown is not null then
      raise exception 'unknown scope "%"', v_unknown using errcode = '22023', detail = 'field: scopes';
    end if;
  end if;
  select s into v_unknown from unnest(v_scopes) s where s <> all (v_held) limit 1;
  if v_unknown is not null then
    raise exception 'cannot grant scope "%" that the caller does not hold', v_unknown
      using errcode = '42501', detail = 'field: scopes';
  end if;

  -- ISSUE
  v_key.org_id := p_org_id;
  v_key.workspace_id := p_workspace_id;
  v_key.name := btrim(p_name);
  v_key.kind := p_kind;
  v_key.environment := p_environment;
  v_key.scopes := (select array_agg(distinct s order by s) from unnest(v_scopes) s);
  v_key.expires_at := p_expires_at;
  v_key.rate_limit_per_minute := p_rate_limit_per_minute;
  v_key.allowed_cidrs := p_allowed_cidrs;
  v_key.source_id := p_source_id;
  select * into v_issued from private.issue_api_key(v_key);

  id := v_issued.id;
  secret := v_issued.secret;
  prefix := left(v_issued.secret, 12);
  kind := p_kind;
  scopes := v_key.scopes;
  expires_at := p_expires_at;
  return next;
end;
$$;
comment on function public.create_api_key(uuid, text, public.api_key_kind, text[], public.api_key_environment, uuid, timestamptz, int, cidr[], uuid) is
  'Creates an API key (api_keys:manage) and returns its secret, the only time it is shown.';
grant execute on function
  public.create_api_key(uuid, text, public.api_key_kind, text[], public.api_key_environment, uuid, timestamptz, int, cidr[], uuid)
  to authenticated, service_role;

create function public.rotate_api_key(p_org_id uuid, p_key_id uuid, p_grace interval default '24 hours')
returns table (id uuid, secret text, prefix text, old_key_expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_old public.api_keys;
  v_issued record;
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'api_keys:manage');
  if p_grace is null or p_grace not between '0 seconds' and '30 days' then
    raise exception 'grace must be between 0 and 30 days' using errcode = '22023', detail = 'field: grace';
  end if;
  select * into v_old from public.api_keys k where k.org_id = p_org_id and k.id = p_key_id for update;
  if v_old.id is null then
    raise exception 'API key not found' using errcode = 'P0002', detail = 'field: key_id';
  end if;
  if v_old.revoked_at is not null or (v_old.expires_at is not null and v_old.expires_at <= now()) then
    raise exception 'a revoked or expired key cannot be rotated' using errcode = '22023', detail = 'field: key_id';
  end if;
  if v_old.replaced_by is not null then
    raise exception 'this key was already rotated' using errcode = '22023', detail = 'field: key_id';
  end if;

  -- SUCCESSOR, THEN GRACE FOR THE OLD KEY
  v_old.rotated_from := v_old.id;
  select * into v_issued from private.issue_api_key(v_old);
  update public.api_keys k
  set expires_at = least(coalesce(k.expires_at, 'infinity'), now() + p_grace),
      replaced_by = v_issued.id
  where k.org_id = p_org_id and k.id = p_key_id
  returning k.expires_at into old_key_expires_at;

  id := v_issued.id;
  secret := v_issued.secret;
  prefix := left(v_issued.secret, 12);
  return next;
end;
$$;
comment on function public.rotate_api_key(uuid, uuid, interval) is
  'Creates a successor key (returned once) and lets the old one work for a grace period (default 24 h).';
grant execute on function public.rotate_api_key(uuid, uuid, interval) to authenticated, service_role;

create function public.revoke_api_key(p_org_id uuid, p_key_id uuid)
returns public.api_keys
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key public.api_keys;
begin
  perform private.require_permission(p_org_id, 'api_keys:manage');
  update public.api_keys k set revoked_at = coalesce(k.revoked_at, now())
  where k.org_id = p_org_id and k.id = p_key_id
  returning * into v_key;
  if v_key.id is null then
    raise exception 'API key not found' using errcode = 'P0002', detail = 'field: key_id';
  end if;
  return v_key;
end;
$$;
comment on function public.revoke_api_key(uuid, uuid) is 'Revokes an API key at once (api_keys:manage).';
grant execute on function public.revoke_api_key(uuid, uuid) to authenticated, service_role;

create function public.api_key_usage(p_org_id uuid, p_key_id uuid default null)
returns table (key_id uuid, name text, prefix text, usage_count bigint, last_used_at timestamptz)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'api_keys:manage');
  return query
  select k.id, k.name, k.prefix,
         k.usage_count + coalesce(b.n, 0),
         greatest(k.last_used_at, b.last_used)
  from public.api_keys k
  left join (
    select u.key_id, count(*) as n, max(u.used_at) as last_used
    from private.api_key_usage_buffer u where u.org_id = p_org_id group by u.key_id
  ) b on b.key_id = k.id
  where k.org_id = p_org_id and (p_key_id is null or k.id = p_key_id)
  order by k.created_at desc;
end;
$$;
comment on function public.api_key_usage(uuid, uuid) is
  'Uses and last use of the organization''s keys, including those not yet flushed.';
grant execute on function public.api_key_usage(uuid, uuid) to authenticated, service_role;

-- VERIFICATION -------------------------------------------------------------------------
-- Constant work for any input: one SHA-256 and one primary-key probe, whatever
-- the shape of the string, so timing says nothing about which keys exist.
create function private.verify_api_key(p_secret text, p_client_ip inet default null)
returns table (key_id uuid, org_id uuid, workspace_id uuid, kind public.api_key_kind,
               scopes text[], rate_limit_per_minute int, source_id uuid)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key public.api_keys;
  v_reason text;
begin
  select k.* into v_key
  from private.api_key_secrets s
  join public.api_keys k on k.org_id = s.org_id and k.id = s.key_id
  where s.key_hash = extensions.digest(coalesce(p_secret, ''), 'sha256');

  if v_key.id is null then
    return;
  end if;
  v_reason := case
    when v_key.revoked_at is not null then 'revoked'
    when v_key.expires_at is not null and v_key.expires_at <= now() then 'expired'
    when v_key.source_id is not null and not exists (
           select 1 from public.sources so
           where so.org_id = v_key.org_id and so.id = v_key.source_id and so.enabled)
      then 'source_disabled'
    when v_key.allowed_cidrs is not null
         and (p_client_ip is null or not exists (
               select 1 from unnest(v_key.allowed_cidrs) c where p_client_ip <<= c))
      then 'ip_not_allowed'
  end;
  if v_reason is not null then
    perform private.append_audit(
      v_key.org_id, 'api_key.rejected', 'api_keys', v_key.id::text, null,
      jsonb_build_object('reason', v_reason, 'prefix', v_key.prefix, 'ip', host(p_client_ip)),
      'medium', 'failure', array['auth'],
      jsonb_build_object('type', 'api_key', 'api_key_id', v_key.id));
    return;
  end if;

  insert into private.api_key_usage_buffer (org_id, key_id) values (v_key.org_id, v_key.id);
  key_id := v_key.id;
  org_id := v_key.org_id;
  workspace_id := v_key.workspace_id;
  kind := v_key.kind;
  scopes := v_key.scopes;
  rate_limit_per_minute := v_key.rate_limit_per_minute;
  source_id := v_key.source_id;
  return next;
end;
$$;
comment on function private.verify_api_key(text, inet) is
  'The key a secret belongs to if it is live (not revoked, expired or outside its networks), else nothing.';
grant execute on function private.verify_api_key(text, inet) to service_role;

create function private.flush_api_key_usage()
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_keys int;
begin
  with drained as (
    delete from private.api_key_usage_buffer returning org_id, key_id, used_at
  ), totals as (
    select d.org_id, d.key_id, count(*) as n, max(d.used_at) as last_used
    from drained d group by d.org_id, d.key_id
  )
  update public.api_keys k
  set usage_count = k.usage_count + t.n,
      last_used_at = greatest(k.last_used_at, t.last_used)
  from totals t
  where k.org_id = t.org_id and k.id = t.key_id;
  get diagnostics v_keys = row_count;
  return v_keys;
end;
$$;
comment on function private.flush_api_key_usage() is
  'Folds buffered key uses into api_keys.usage_count and last_used_at; run each minute by pg_cron.';

select cron.schedule('meridian-flush-api-key-usage', '* * * * *', 'select private.flush_api_key_usage()');
