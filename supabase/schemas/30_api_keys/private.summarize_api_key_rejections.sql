-- For each finished hour in which a key was refused more than once, one audit
-- row with the count (the first refusal was audited when it happened); counts
-- older than a day are then deleted. Run every five minutes by pg_cron.
create or replace function private.summarize_api_key_rejections()
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_row private.api_key_rejections;
  v_count int := 0;
begin
  for v_row in
    update private.api_key_rejections r set summarized = true
    where not r.summarized and r.hour < date_trunc('hour', now())
    returning r.*
  loop
    if v_row.rejections > 1 then
      perform private.append_audit(
        v_row.org_id, 'api_key.rejected', 'api_keys', v_row.key_id::text, null,
        jsonb_build_object('reason', v_row.reason, 'hour', v_row.hour,
                           'rejections', v_row.rejections, 'last_ip', host(v_row.last_ip)),
        'medium', 'failure', array['auth'],
        jsonb_build_object('type', 'api_key', 'api_key_id', v_row.key_id));
      v_count := v_count + 1;
    end if;
  end loop;
  delete from private.api_key_rejections r where r.summarized and r.hour < now() - interval '1 day';
  return v_count;
end;
$$;

comment on function private.summarize_api_key_rejections() is
  'Audits each finished hour''s count of refusals per key and reason (one row each); run every five minutes by pg_cron.';
