-- The permission catalogue: every action a role can be granted. Each capability adds
-- its own keys here; role_permissions maps them to roles.
insert into public.permissions (key, description) values
  ('analytics:manage', 'Compute attribution and load ad spend'),
  ('analytics:read', 'Read attribution, spend and performance reports'),
  ('api_keys:manage', 'Create, rotate and revoke API keys'),
  ('audit:read', 'Search and export the audit log'),
  ('billing:manage', 'Change plan and billing'),
  ('campaigns:create', 'Create and edit campaigns'),
  ('campaigns:read', 'Read campaigns'),
  ('customers:export', 'Export profiles and events'),
  ('customers:read', 'Read profiles and events'),
  ('events:write', 'Send events (ingestion)'),
  ('experiments:manage', 'Create, start and stop experiments'),
  ('experiments:read', 'Read experiments'),
  ('members:manage', 'Invite, change roles of and deactivate members'),
  ('members:read', 'See members and their roles'),
  ('org:delete', 'Delete the organization'),
  ('org:read', 'See the organization, its workspaces and settings'),
  ('privacy:manage', 'Manage consent and data-subject requests'),
  ('segments:read', 'Read segments'),
  ('segments:write', 'Create and edit segments'),
  ('scim:provision', 'Provision members and groups through SCIM (API keys)'),
  ('settings:manage', 'Change organization and workspace settings'),
  ('sso:manage', 'Configure SSO connections, enforced SSO and MFA'),
  ('webhooks:manage', 'Create and change webhook endpoints'),
  ('webhooks:read', 'Read webhook endpoints and deliveries'),
  ('workspaces:manage', 'Create, rename and delete workspaces')
on conflict (key) do update set
  description = excluded.description;
