-- The one way rows enter the audit log.
create or replace function private.append_audit(
  p_org_id uuid,
  p_action text,
  p_resource_type text,
  p_resource_id text default null,
  p_before jsonb default null,
  p_after jsonb default null,
  p_risk public.audit_risk default 'low',
  p_status public.audit_status default 'success',
  p_tags text[] default '{}',
  p_actor jsonb default null
)
returns public.audit_log
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Who acts and from where, read once from the transaction's settings (this
  -- runs for every audited row, so it avoids nested helper calls): the JWT for
  -- user sessions, meridian.principal for API keys (set by edge functions), and
  -- the request headers PostgREST sets or the context functions pass.
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_headers jsonb := coalesce(nullif(current_setting('request.headers', true), '')::jsonb, '{}');
  v_req jsonb := coalesce(nullif(current_setting('meridian.request', true), '')::jsonb, '{}');
  v_actor jsonb := p_actor;
  v_key jsonb;
  v_masked_keys text[];
  v_retention interval;
  v_mask_pattern text;
  v_seq bigint;
  v_prev_hash bytea;
  v_row public.audit_log;
begin
  if v_actor is null then
    if v_claims ->> 'sub' is not null then
      v_actor := jsonb_build_object('type', 'user', 'user_id', v_claims ->> 'sub',
                                    'email', v_claims ->> 'email');
    else
      v_key := private.api_key_principal();
      v_actor := case when v_key is not null
        then jsonb_build_object('type', 'api_key', 'api_key_id', v_key ->> 'key_id')
        else jsonb_build_object('type', 'system') end;
    end if;
  end if;
  -- CLAIM THE NEXT LINK: the UPDATE locks the organization's head row until
  -- commit, so appends serialize per organization (never globally), and it
  -- returns the newest committed head even after waiting for another appender.
  -- The organization's audit settings ride along (it may be gone: deletions
  -- are audited too).
  update private.audit_chain_heads h set last_seq = h.last_seq + 1
  where h.org_id = p_org_id
  returning h.last_seq, h.last_hash,
            (select o.audit_masked_keys from public.organizations o where o.id = p_org_id),
            (select o.audit_retention from public.organizations o where o.id = p_org_id)
  into v_seq, v_prev_hash, v_masked_keys, v_retention;
  if v_seq is null then
    -- First event of this organization (or a concurrent first: then wait for it).
    insert into private.audit_chain_heads as h (org_id, last_seq, last_hash)
    values (p_org_id, 1, private.audit_genesis_hash(p_org_id))
    on conflict (org_id) do update set last_seq = h.last_seq + 1
    returning h.last_seq, h.last_hash,
              (select o.audit_masked_keys from public.organizations o where o.id = p_org_id),
              (select o.audit_retention from public.organizations o where o.id = p_org_id)
    into v_seq, v_prev_hash, v_masked_keys, v_retention;
  end if;
  -- mask_sensitive's own fast path, checked here to skip the call for clean images.
  v_mask_pattern := array_to_string(
    array['password', 'secret', 'token', 'api_key', 'key_hash', 'mfa_secret']
    || coalesce(v_masked_keys, '{}'), '|');

  -- BUILD, HASH AND APPEND THE ROW in one statement.
  insert into public.audit_log (
    org_id, seq, occurred_at, id, actor_type, actor_user_id, actor_email, actor_api_key_id,
    action, resource_type, resource_id, before, after, changed_fields, ip, user_agent,
    request_id, risk, tags, status, retention_until, prev_hash, hash, hash_version)
  select (c.r).org_id, (c.r).seq, (c.r).occurred_at, (c.r).id, (c.r).actor_type,
         (c.r).actor_user_id, (c.r).actor_email, (c.r).actor_api_key_id, (c.r).action,
         (c.r).resource_type, (c.r).resource_id, (c.r).before, (c.r).after,
         (c.r).changed_fields, (c.r).ip, (c.r).user_agent, (c.r).request_id, (c.r).risk,
         (c.r).tags, (c.r).status, (c.r).retention_until, (c.r).prev_hash,
         extensions.digest((c.r).prev_hash || convert_to(private.audit_canonical(c.r), 'UTF8'),
                           'sha256'),
         (c.r).hash_version
  from (
    select row(
      p_org_id,
      v_seq,
      -- clock_timestamp, taken while holding the head, keeps time order equal
      -- to chain order.
      t.now,
      gen_random_uuid(),
      v_actor ->> 'type',
      (v_actor ->> 'user_id')::uuid,
      v_actor ->> 'email',
      (v_actor ->> 'api_key_id')::uuid,
      p_action,
      p_resource_type,
      p_resource_id,
      case when lower(p_before::text) ~ v_mask_pattern
           then private.mask_sensitive(p_before, v_masked_keys) else p_before end,
      case when lower(p_after::text) ~ v_mask_pattern
           then private.mask_sensitive(p_after, v_masked_keys) else p_after end,
      -- Only an update has changed fields; inserts and deletes carry whole images.
      case when p_before is null or p_after is null then '{}'::text[] else
        coalesce((
          select array_agg(k order by k) from (
            select key as k from jsonb_each(p_after)
            union
            select key from jsonb_each(p_before)
          ) keys
          where p_before -> k is distinct from p_after -> k
            and k <> 'updated_at'), '{}') end,
      -- The right-most X-Forwarded-For entry is the one the gateway added;
      -- the ones left of it are whatever the client wrote.
      private.parse_ip(coalesce(v_req ->> 'ip',
                                btrim(substring(v_headers ->> 'x-forwarded-for' from '[^,]*$')))),
      left(coalesce(v_req ->> 'user_agent', v_headers ->> 'user-agent'), 512),
      left(coalesce(v_req ->> 'request_id', v_headers ->> 'x-request-id'), 128),
      p_risk,
      coalesce(p_tags, '{}'),
      p_status,
      t.now + coalesce(v_retention, interval '7 years'),
      v_prev_hash,
      null::bytea,    -- hash: computed over everything else, above
      null::tsvector, -- search: generated on insert
      2::smallint     -- hash_version: what audit_canonical hashes
    )::public.audit_log as r
    from (select clock_timestamp() as now) t
    offset 0
  ) c
  returning * into v_row;

  -- The head's hash moves only now that the row's hash is known.
  update private.audit_chain_heads set last_hash = v_row.hash where org_id = p_org_id;
  return v_row;
end;
$$;

comment on function private.append_audit(uuid, text, text, text, jsonb, jsonb, public.audit_risk, public.audit_status, text[], jsonb) is
  'Appends one audit row to the organization''s hash chain; the only writer of audit_log.';

grant execute on function
  private.append_audit(uuid, text, text, text, jsonb, jsonb, public.audit_risk, public.audit_status, text[], jsonb)
  to service_role;
