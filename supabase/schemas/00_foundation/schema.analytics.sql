create schema if not exists analytics;

comment on schema analytics is
  'Read-only views for analysts (security_invoker, so RLS of the underlying tables applies).';

revoke all on schema analytics from public;

grant usage on schema analytics to authenticated, service_role;
