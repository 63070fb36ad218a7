create or replace function public.create_api_key(
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
