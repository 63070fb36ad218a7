-- Changes an organization's attribution settings (analytics:manage); the
-- arguments left null keep their value (the default, the first time).
create or replace function public.set_attribution_settings(
  p_org_id uuid,
  p_base_currency text default null,
  p_conversion_events text[] default null,
  p_touch_channels text[] default null,
  p_window_days int default null,
  p_reset_after_conversion boolean default null,
  p_all_channels boolean default false
)
returns public.attribution_settings
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_current public.attribution_settings := private.attribution_settings_of(p_org_id);
  v_row public.attribution_settings;
begin
  perform private.require_permission(p_org_id, 'analytics:manage');
  insert into public.attribution_settings (org_id, base_currency, conversion_events, touch_channels, window_days,
                                           reset_after_conversion)
  values (p_org_id, upper(coalesce(p_base_currency, v_current.base_currency)),
          coalesce(p_conversion_events, v_current.conversion_events),
          case when p_all_channels then null else coalesce(p_touch_channels, v_current.touch_channels) end,
          coalesce(p_window_days, v_current.window_days),
          coalesce(p_reset_after_conversion, v_current.reset_after_conversion))
  on conflict (org_id) do update set
    base_currency = excluded.base_currency, conversion_events = excluded.conversion_events,
    touch_channels = excluded.touch_channels, window_days = excluded.window_days,
    reset_after_conversion = excluded.reset_after_conversion
  returning * into v_row;
  return v_row;
end;
$$;

comment on function public.set_attribution_settings(uuid, text, text[], text[], int, boolean, boolean) is
  'Changes attribution settings (analytics:manage); p_all_channels clears the touch channel list.';

grant execute on function public.set_attribution_settings(uuid, text, text[], text[], int, boolean, boolean)
  to authenticated, service_role;
