-- Custom access token hook (config.toml [auth.hook.custom_access_token]): runs
-- whenever Supabase Auth issues a token (sign-in and refresh), as
-- supabase_auth_admin. Claims pass through unchanged; each sign-in is audited in
-- every organization the user is an active member of.
create or replace function public.custom_access_token_hook(event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (event ->> 'user_id')::uuid;
  v_method text := event ->> 'authentication_method';
  v_org uuid;
begin
  -- A refresh is not a login; every other method is.
  if v_method is distinct from 'token_refresh' then
    for v_org in
      select m.org_id from public.organization_members m
      where m.user_id = v_user_id and m.status = 'active'
    loop
      perform private.append_audit(
        v_org, 'auth.login', 'session', event -> 'claims' ->> 'session_id', null,
        jsonb_build_object('method', v_method, 'aal', event -> 'claims' ->> 'aal'),
        'low', 'success', array['auth'],
        jsonb_build_object('type', 'user', 'user_id', v_user_id,
                           'email', event -> 'claims' ->> 'email'));
    end loop;
  end if;
  return jsonb_build_object('claims', event -> 'claims');
end;
$$;

comment on function public.custom_access_token_hook(jsonb) is
  'Supabase Auth hook: audits each sign-in in the user''s organizations; claims pass through.';

-- Only Supabase Auth calls hooks (Supabase's documented grants).
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;

revoke execute on function public.custom_access_token_hook(jsonb) from authenticated, anon, public;
