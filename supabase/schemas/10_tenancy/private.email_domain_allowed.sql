-- Whether the email's domain may join the organization (any, while its
-- allowed_email_domains is empty); asked by invite_member and accept_invitation.
create or replace function private.email_domain_allowed(p_org_id uuid, p_email text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select cardinality(o.allowed_email_domains) = 0
      or split_part(lower(p_email), '@', 2) = any (o.allowed_email_domains)
  from public.organizations o where o.id = p_org_id
$$;
