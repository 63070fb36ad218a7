-- Opaque refresh tokens of SSO sessions, kept as SHA-256 hashes: single use,
-- each use issuing a child. A token used twice (after the short reuse interval
-- that covers a client retrying a lost response) revokes its whole session:
-- someone else holds a copy (the rotation and reuse detection of OAuth 2.0
-- Security BCP, as Supabase Auth does it).
create table private.sso_refresh_tokens (
  token_hash bytea primary key,
  org_id uuid not null,
  session_id uuid not null,
  parent_hash bytea,
  created_at timestamptz not null default now(),
  used_at timestamptz,
  foreign key (org_id, session_id) references public.sso_sessions (org_id, id) on delete cascade
);

comment on table private.sso_refresh_tokens is
  'SHA-256 of SSO refresh tokens, single-use with rotation (parent_hash links the family). RLS on with no policy: only definer functions reach it.';

create index sso_refresh_tokens_session_idx on private.sso_refresh_tokens (org_id, session_id);
create index sso_refresh_tokens_parent_idx on private.sso_refresh_tokens (parent_hash) where parent_hash is not null;

alter table private.sso_refresh_tokens enable row level security;
revoke all on private.sso_refresh_tokens from anon, authenticated, service_role;
