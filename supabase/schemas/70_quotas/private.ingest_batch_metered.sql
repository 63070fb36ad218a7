-- The ingest function's one call per batch: private.ingest_batch within the
-- events quota. Ingestion counts the events it stored (duplicates are not new
-- work).
create or replace function private.ingest_batch_metered(p_org_id uuid, p_source_id uuid, p_messages jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  perform private.assert_quota_available(p_org_id, 'events');
  v_result := private.ingest_batch(p_org_id, p_source_id, p_messages);
  perform private.meter_usage(p_org_id, 'events', (v_result ->> 'accepted')::bigint);
  return v_result;
end;
$$;

comment on function private.ingest_batch_metered(uuid, uuid, jsonb) is
  'private.ingest_batch within the organization''s events quota, counting the events stored.';

grant execute on function private.ingest_batch_metered(uuid, uuid, jsonb) to service_role;
