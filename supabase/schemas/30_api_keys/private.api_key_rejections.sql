-- Refused uses of a known key (revoked, expired, disabled source, address not
-- allowed), counted per key, reason and hour. A revoked write key stays in
-- the web pages that embed it and keeps being sent: auditing each refusal put
-- one row per request on the organization's audit chain, all serialized on
-- its head. Now the first refusal of an hour is audited at once, the rest
-- only counted here, and private.summarize_api_key_rejections audits each
-- finished hour's count in one row.
create table private.api_key_rejections (
  org_id uuid not null,
  key_id uuid not null,
  hour timestamptz not null,
  reason text not null,
  rejections int not null default 1,
  last_ip inet,
  summarized boolean not null default false,
  primary key (org_id, key_id, hour, reason)
);

comment on table private.api_key_rejections is
  'Refusals of known API keys per key, reason and hour; the first is audited at once, the count once the hour is over. RLS on with no policy: only definer functions reach it.';

create index api_key_rejections_unsummarized_idx on private.api_key_rejections (hour)
  where not summarized;

alter table private.api_key_rejections enable row level security;
-- No policy: written by verify_api_key and read by the summary (definer functions).
revoke all on private.api_key_rejections from anon, authenticated, service_role;
