-- An organization's attribution settings, the defaults where it has none.
create or replace function private.attribution_settings_of(p_org_id uuid)
returns public.attribution_settings
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select s from public.attribution_settings s where s.org_id = p_org_id),
    row(p_org_id, 'USD', array['Order Completed'], null, 30, true, now())::public.attribution_settings)
$$;

comment on function private.attribution_settings_of(uuid) is
  'The organization''s attribution settings, or the defaults.';

grant execute on function private.attribution_settings_of(uuid) to service_role;
