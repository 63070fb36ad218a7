-- Sessions Meridian issues itself for enterprise sign-in (OIDC and SAML through
-- the sso function), which Supabase Auth does not know: their access tokens
-- carry this id as session_id, and RLS refuses a token whose session is
-- revoked or over (private.sso_session_live). Refresh tokens rotate in
-- private.sso_refresh_tokens. Listable by the user and by the organization's
-- member admins; revoked by them, by single logout, by a reused refresh token,
-- and at once when the member is deactivated.
create table public.sso_sessions (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- The SSO connection signed in through (sso_connections, with the OIDC and
  -- SAML capability).
  connection_id uuid not null,
  aal text not null default 'aal1' constraint sso_sessions_aal_check check (aal in ('aal1', 'aal2')),
  amr jsonb not null default '[]' constraint sso_sessions_amr_array check (jsonb_typeof(amr) = 'array'),
  ip inet,
  user_agent text constraint sso_sessions_user_agent_length check (char_length(user_agent) <= 512),
  created_at timestamptz not null default now(),
  refreshed_at timestamptz,
  -- The absolute end: no refresh extends a session past it.
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text,
  -- Who the IdP says signed in, to find the session again when the IdP ends
  -- it (SAML single logout, OIDC back-channel logout): the SAML NameID as
  -- sent and its format, or the OIDC sub; the SAML SessionIndex or OIDC sid.
  idp_subject text,
  idp_subject_format text,
  idp_session_id text,
  primary key (org_id, id)
);

comment on table public.sso_sessions is
  'Enterprise sign-in sessions Meridian issues (their tokens carry session_id); revoked ones are refused by RLS at once.';

create index sso_sessions_user_idx on public.sso_sessions (user_id, created_at desc);
create index sso_sessions_org_user_idx on public.sso_sessions (org_id, user_id);
create index sso_sessions_idp_subject_idx on public.sso_sessions (org_id, connection_id, idp_subject)
  where revoked_at is null;

revoke all on public.sso_sessions from anon, authenticated, service_role;
grant select on public.sso_sessions to authenticated, service_role;

alter table public.sso_sessions enable row level security;

create policy "Users and member admins can read sessions"
  on public.sso_sessions for select to authenticated
  using (user_id = (select auth.uid())
         or org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));
