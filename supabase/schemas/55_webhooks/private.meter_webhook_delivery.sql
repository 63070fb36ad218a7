-- Counts one successful delivery against the webhook_deliveries quota. A
-- delivery already made is never undone: a hard quota reached stops the next
-- claims (private.webhook_quota_exhausted), not this one.
create or replace function private.meter_webhook_delivery(p_org_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.meter_usage(p_org_id, 'webhook_deliveries', 1);
exception when sqlstate 'MQ001' then
  -- Reached by deliveries in flight when the quota ran out: the delivery
  -- stands; the rolled-back block takes its count with it.
  return;
end;
$$;

comment on function private.meter_webhook_delivery(uuid) is
  'Meters one successful webhook delivery; never undoes one already made.';
