-- The check constraint of organizations.settings: true, or an error that names
-- the key and the rule (a plain CHECK could only name the constraint). Before
-- it, an admin could save engagement_weights.track = "heavy", and from then on
-- every batch of the organization failed a cast: events lost. Keys it does not
-- know pass, for settings later capabilities add.
create or replace function private.check_organization_settings(p_settings jsonb)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_key text;
  v_value jsonb;
begin
  if octet_length(p_settings::text) > 65536 then
    raise exception 'settings must be at most 64 KB as JSON'
      using errcode = '22023', detail = 'field: settings';
  end if;
  if p_settings ? 'ip_handling' and (
       jsonb_typeof(p_settings -> 'ip_handling') <> 'string'
       or p_settings ->> 'ip_handling' not in ('keep', 'truncate', 'drop')) then
    raise exception 'settings.ip_handling must be one of keep, truncate, drop'
      using errcode = '22023', detail = 'field: settings.ip_handling';
  end if;
  if p_settings ? 'engagement_weights' then
    if jsonb_typeof(p_settings -> 'engagement_weights') <> 'object' then
      raise exception 'settings.engagement_weights must be an object of event weights'
        using errcode = '22023', detail = 'field: settings.engagement_weights';
    end if;
    for v_key, v_value in select e.key, e.value from jsonb_each(p_settings -> 'engagement_weights') e loop
      if jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}')::numeric not between 0 and 1000 then
        raise exception 'settings.engagement_weights.% must be a number from 0 to 1000', v_key
          using errcode = '22023', detail = format('field: settings.engagement_weights.%s', v_key);
      end if;
    end loop;
  end if;
  return true;
end;
$$;

comment on function private.check_organization_settings(jsonb) is
  'Check of organizations.settings: true, or an error naming the key (ip_handling, engagement_weights.<key>, size).';

grant execute on function private.check_organization_settings(jsonb) to authenticated, service_role;
