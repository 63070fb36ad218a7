-- Issues a key row and its secret; shared by create and rotate.
create or replace function private.issue_api_key(p_key public.api_keys)
returns table (id uuid, secret text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_secret text := private.new_api_key_secret(p_key.kind, p_key.environment);
begin
  p_key.id := gen_random_uuid();
  p_key.prefix := left(v_secret, 12);
  p_key.last_four := right(v_secret, 4);
  p_key.created_at := now();
  p_key.created_by := auth.uid();
  p_key.usage_count := 0;
  p_key.last_used_at := null;
  p_key.revoked_at := null;
  p_key.replaced_by := null;
  insert into public.api_keys select p_key.*;
  insert into private.api_key_secrets (key_hash, org_id, key_id)
  values (extensions.digest(v_secret, 'sha256'), p_key.org_id, p_key.id);
  id := p_key.id;
  secret := v_secret;
  return next;
end;
$$;
