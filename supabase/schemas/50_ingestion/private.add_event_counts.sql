-- A profile's events per type plus a batch's, by message type: an expression,
-- not a subquery expanding both objects per profile. Built from text so the
-- body stays immutable (jsonb_build_object is only stable) and inlines.
create or replace function private.add_event_counts(p_counts jsonb, p_track bigint, p_page bigint, p_screen bigint,
                                         p_identify bigint, p_group bigint, p_alias bigint)
returns jsonb
language sql
immutable
-- No SET search_path, so the planner can inline it into the profile fold: it
-- names only pg_catalog objects, which are searched first.
as $$
  select p_counts
    || case when p_track > 0 then ('{"track": '
         || (coalesce((p_counts ->> 'track')::bigint, 0) + p_track)::text || '}')::jsonb else '{}' end
    || case when p_page > 0 then ('{"page": '
         || (coalesce((p_counts ->> 'page')::bigint, 0) + p_page)::text || '}')::jsonb else '{}' end
    || case when p_screen > 0 then ('{"screen": '
         || (coalesce((p_counts ->> 'screen')::bigint, 0) + p_screen)::text || '}')::jsonb else '{}' end
    || case when p_identify > 0 then ('{"identify": '
         || (coalesce((p_counts ->> 'identify')::bigint, 0) + p_identify)::text || '}')::jsonb else '{}' end
    || case when p_group > 0 then ('{"group": '
         || (coalesce((p_counts ->> 'group')::bigint, 0) + p_group)::text || '}')::jsonb else '{}' end
    || case when p_alias > 0 then ('{"alias": '
         || (coalesce((p_counts ->> 'alias')::bigint, 0) + p_alias)::text || '}')::jsonb else '{}' end
$$;

comment on function private.add_event_counts(jsonb, bigint, bigint, bigint, bigint, bigint, bigint) is
  'Event counts per message type with a batch''s counts added.';

grant execute on function private.add_event_counts(jsonb, bigint, bigint, bigint, bigint, bigint, bigint)
  to service_role;
