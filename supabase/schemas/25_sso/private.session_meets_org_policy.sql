-- Whether the caller's session satisfies an organization's sign-in policy, for
-- the RLS helpers: MFA required means aal2; SSO enforced means the session
-- came through an SSO connection (amr method sso/oidc or sso/saml), so a
-- password session of a member reaches none of the organization's data; and
-- a Meridian-issued SSO session must not be revoked or over.
create or replace function private.session_meets_org_policy(p_sso_enforced boolean, p_mfa_required boolean)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select (not p_mfa_required or coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2')
     and (not p_sso_enforced or exists (
           select 1 from pg_catalog.jsonb_array_elements(
             case when pg_catalog.jsonb_typeof(auth.jwt() -> 'amr') = 'array' then auth.jwt() -> 'amr' else '[]' end) a
           where a ->> 'method' in ('sso/oidc', 'sso/saml')))
     and ((auth.jwt() -> 'app_metadata' ->> 'sso_connection_id') is null
          or exists (
            select 1 from public.sso_sessions s
            where s.org_id = (auth.jwt() -> 'app_metadata' ->> 'org_id')::uuid
              and s.id = (auth.jwt() ->> 'session_id')::uuid
              and s.revoked_at is null and s.expires_at > now()))
$$;

comment on function private.session_meets_org_policy(boolean, boolean) is
  'Whether the caller''s session meets an organization''s policy: aal2 when MFA is required, an SSO session when SSO is enforced, and a live Meridian session.';

grant execute on function private.session_meets_org_policy(boolean, boolean) to authenticated, service_role;
