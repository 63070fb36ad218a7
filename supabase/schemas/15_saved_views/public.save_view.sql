-- Upserts the caller's view by name. Security invoker: the policies on
-- saved_views decide, so the function adds no privilege.
create or replace function public.save_view(p_name text, p_definition jsonb default '{}'::jsonb)
returns public.saved_views
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_view public.saved_views;
begin
  -- VALIDATION
  if (select auth.uid()) is null then
    raise exception 'save_view requires a signed-in user'
      using errcode = '42501';
  end if;
  if p_name is null or char_length(btrim(p_name)) not between 1 and 120 then
    raise exception 'name must be 1 to 120 characters'
      using errcode = '22023', detail = 'field: name';
  end if;

  -- UPSERT BY NAME
  insert into public.saved_views (owner_id, name, definition)
  values ((select auth.uid()), btrim(p_name), coalesce(p_definition, '{}'::jsonb))
  on conflict on constraint saved_views_owner_name_key
    do update set definition = excluded.definition
  returning * into v_view;
  return v_view;
end;
$$;

comment on function public.save_view(text, jsonb) is
  'Creates the caller''s saved view with this name, or replaces its definition.';

grant execute on function public.save_view(text, jsonb) to authenticated, service_role;
