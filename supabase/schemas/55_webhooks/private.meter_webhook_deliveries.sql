-- Counts a batch's successful deliveries of one organization against the
-- webhook_deliveries quota. Deliveries already made are never undone: a hard
-- quota reached stops the next claims (claim_webhook_deliveries), not these.
create or replace function private.meter_webhook_deliveries(p_org_id uuid, p_count bigint)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.meter_usage(p_org_id, 'webhook_deliveries', p_count);
exception when sqlstate 'MQ001' then
  -- Reached by deliveries in flight when the quota ran out: they stand; the
  -- rolled-back block takes their count with it.
  return;
end;
$$;

comment on function private.meter_webhook_deliveries(uuid, bigint) is
  'Meters a batch''s successful webhook deliveries for one organization; never undoes one already made.';
