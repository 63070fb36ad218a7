-- Whether an organization has used up a hard webhook_deliveries quota: its
-- deliveries then wait in the queue (never dropped) for the next period.
create or replace function private.webhook_quota_exhausted(p_org_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from private.quota_state(p_org_id, 'webhook_deliveries') q
    where q.hard and q.used >= q.quota)
$$;

comment on function private.webhook_quota_exhausted(uuid) is
  'Whether the organization''s hard webhook_deliveries quota is used up (deliveries then wait for the next period).';
