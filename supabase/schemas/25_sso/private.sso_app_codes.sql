-- One-time codes the app exchanges at /sso/token (grant_type=authorization_code)
-- with its PKCE verifier, for the session a sign-in earned: kept as SHA-256,
-- single use, 60 seconds.
create table private.sso_app_codes (
  code_hash bytea primary key,
  org_id uuid not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  connection_id uuid not null,
  amr jsonb not null,
  aal text not null,
  app_code_challenge text not null,
  created_at timestamptz not null default now(),
  idp_subject text,
  idp_subject_format text,
  idp_session_id text,
  foreign key (org_id, connection_id) references public.sso_connections (org_id, id) on delete cascade
);

comment on table private.sso_app_codes is
  'SHA-256 of one-time sign-in codes for the app''s PKCE exchange, 60 seconds. RLS on with no policy: only definer functions reach it.';

create index sso_app_codes_connection_idx on private.sso_app_codes (org_id, connection_id);
create index sso_app_codes_user_idx on private.sso_app_codes (user_id);

alter table private.sso_app_codes enable row level security;
revoke all on private.sso_app_codes from anon, authenticated, service_role;
