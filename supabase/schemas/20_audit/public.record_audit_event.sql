-- Edge functions record what no row trigger sees: logins, failed logins, key-use
-- failures and permission denials (after the failed transaction, in a new one).
create or replace function public.record_audit_event(
  p_org_id uuid,
  p_action text,
  p_resource_type text,
  p_resource_id text default null,
  p_status public.audit_status default 'success',
  p_risk public.audit_risk default 'low',
  p_details jsonb default null,
  p_tags text[] default '{}'
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not private.is_trusted_caller() then
    raise exception 'record_audit_event is for server-side callers' using errcode = '42501';
  end if;
  return (private.append_audit(p_org_id, p_action, p_resource_type, p_resource_id,
                               null, p_details, p_risk, p_status, p_tags)).id;
end;
$$;

comment on function public.record_audit_event(uuid, text, text, text, public.audit_status, public.audit_risk, jsonb, text[]) is
  'Server-side (service role) entry for audit events no row trigger sees.';

grant execute on function
  public.record_audit_event(uuid, text, text, text, public.audit_status, public.audit_risk, jsonb, text[])
  to service_role;
