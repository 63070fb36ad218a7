create or replace function public.verify_audit_chain(
  p_org_id uuid,
  p_from timestamptz default '-infinity',
  p_to timestamptz default 'infinity'
)
returns table (ok boolean, rows_checked bigint, broken_seq bigint, broken_id uuid, reason text)
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'audit:read');
  return query select * from private.verify_audit_chain(p_org_id, p_from, p_to);
end;
$$;

comment on function public.verify_audit_chain(uuid, timestamptz, timestamptz) is
  'Verifies the audit chain for auditors (audit:read).';

grant execute on function public.verify_audit_chain(uuid, timestamptz, timestamptz)
  to authenticated, service_role;
