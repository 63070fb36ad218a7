-- The check constraint of identity_settings' limits and priorities: true, or
-- an error that names the key and the rule. A priority of "first" or a limit
-- of "many" once made every batch of the organization fail a cast.
create or replace function private.check_identity_settings(p_limits jsonb, p_priorities jsonb)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_field text;
  v_map jsonb;
  v_key text;
  v_value jsonb;
begin
  foreach v_field in array array['limits', 'priorities'] loop
    v_map := case v_field when 'limits' then p_limits else p_priorities end;
    for v_key, v_value in select e.key, e.value from jsonb_each(v_map) e loop
      if not (v_key in ('user_id', 'anonymous_id', 'email', 'phone', 'device_id')
              or v_key ~ '^external:[a-z0-9_]{1,40}$'
              or (v_field = 'limits' and v_key = '*')) then
        raise exception '%.% is not an identifier type', v_field, v_key
          using errcode = '22023', detail = format('field: %s.%s', v_field, v_key);
      end if;
      if jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}')::numeric not between 1 and 1000
         or (v_value #>> '{}')::numeric <> trunc((v_value #>> '{}')::numeric) then
        raise exception '%.% must be a whole number from 1 to 1000', v_field, v_key
          using errcode = '22023', detail = format('field: %s.%s', v_field, v_key);
      end if;
    end loop;
  end loop;
  return true;
end;
$$;

comment on function private.check_identity_settings(jsonb, jsonb) is
  'Check of identity_settings: limits and priorities map identifier types to whole numbers 1-1000; errors name the key.';

grant execute on function private.check_identity_settings(jsonb, jsonb) to authenticated, service_role;
