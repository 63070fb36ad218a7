-- Messages seen per source in the last day, for idempotency: a repeated
-- messageId is accepted and not stored twice. Partitioned by day of receipt
-- and dropped after two days.
create table private.ingested_messages (
  org_id uuid not null,
  source_id uuid not null,
  message_id text collate "C" not null,  -- compared bytewise, as identifiers are
  received_day date not null,
  received_at timestamptz not null default now(),
  primary key (org_id, source_id, message_id, received_day)
) partition by range (received_day);

comment on table private.ingested_messages is 'messageIds accepted per source and day, for 24-hour idempotency.';

alter table private.ingested_messages enable row level security;
