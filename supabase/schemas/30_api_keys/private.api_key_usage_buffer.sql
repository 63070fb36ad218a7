-- Usage is appended here (no hot-row updates on api_keys per request) and folded
-- into api_keys each minute. UNLOGGED: a crash may lose up to a minute of usage
-- counts, never a key or a decision.
create unlogged table private.api_key_usage_buffer (
  org_id uuid not null,
  key_id uuid not null,
  used_at timestamptz not null default now()
);

comment on table private.api_key_usage_buffer is
  'Recent API key uses, folded into api_keys.usage_count/last_used_at by flush_api_key_usage(). No primary key: an append-only buffer, read whole and emptied each minute. RLS on with no policy: only definer functions reach it.';

alter table private.api_key_usage_buffer enable row level security;
