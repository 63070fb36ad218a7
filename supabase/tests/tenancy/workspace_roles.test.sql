-- Workspace roles only narrow: a member who is read_only in one workspace keeps
-- their organization role elsewhere; API keys bound to a workspace act only there.
begin;
select plan(5);

select tests.create_supabase_user('ws_manager');
insert into public.organizations (id, name, slug) values
  ('abababab-0000-4000-8000-000000000008', 'Narrow', 'narrow');
insert into public.workspaces (org_id, id, name, slug) values
  ('abababab-0000-4000-8000-000000000008', 'abababab-0000-4000-8000-0000000000e1', 'EU', 'eu'),
  ('abababab-0000-4000-8000-000000000008', 'abababab-0000-4000-8000-0000000000e2', 'US', 'us');
insert into public.organization_members (org_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000008', tests.get_supabase_uid('ws_manager'), 'manager');
insert into public.workspace_members (org_id, workspace_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000008', 'abababab-0000-4000-8000-0000000000e1',
   tests.get_supabase_uid('ws_manager'), 'read_only');

select tests.authenticate_as('ws_manager');
select is(private.has_workspace_permission('abababab-0000-4000-8000-000000000008',
  'abababab-0000-4000-8000-0000000000e1', 'segments:write'), false,
  'read_only in the EU workspace cannot write segments there');
select is(private.has_workspace_permission('abababab-0000-4000-8000-000000000008',
  'abababab-0000-4000-8000-0000000000e1', 'segments:read'), true,
  'but still reads them');
select is(private.has_workspace_permission('abababab-0000-4000-8000-000000000008',
  'abababab-0000-4000-8000-0000000000e2', 'segments:write'), true,
  'in other workspaces the organization role applies');
select is(private.has_workspace_permission('abababab-0000-4000-8000-000000000008',
  'abababab-0000-4000-8000-0000000000e2', 'members:manage'), false,
  'a workspace role never widens the organization role');

reset role;
select set_config('request.jwt.claims', '', true);
select set_config('meridian.principal', json_build_object(
  'key_id', gen_random_uuid(), 'org_id', 'abababab-0000-4000-8000-000000000008',
  'workspace_id', 'abababab-0000-4000-8000-0000000000e1', 'scopes', array['events:write'])::text, true);
select is(
  array[private.has_workspace_permission('abababab-0000-4000-8000-000000000008',
          'abababab-0000-4000-8000-0000000000e1', 'events:write'),
        private.has_workspace_permission('abababab-0000-4000-8000-000000000008',
          'abababab-0000-4000-8000-0000000000e2', 'events:write')],
  array[true, false], 'a workspace-bound key acts only in its workspace');

select * from finish();
rollback;
