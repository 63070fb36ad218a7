-- Where each organization's chain ends. One row per org; appending locks it, so
-- appends are serialized per organization and never globally.
create table private.audit_chain_heads (
  org_id uuid primary key,
  last_seq bigint not null,
  last_hash bytea not null
);

comment on table private.audit_chain_heads is 'The last sequence number and hash of each organization''s audit chain. RLS on with no policy: only definer functions reach it.';

alter table private.audit_chain_heads enable row level security;
