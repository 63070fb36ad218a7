-- Ten new recovery codes for a user, returned once (XXXX-XXXX-XXXX, 60 random
-- bits each, from a 32-letter alphabet), the old ones dropped. Needs an aal2
-- session, as any change of factors does.
create or replace function private.mfa_regenerate_recovery_codes(p_user_id uuid, p_aal text)
returns setof text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_code text;
  v_alphabet constant text := 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  v_bytes bytea;
begin
  if p_aal <> 'aal2' then
    raise exception 'regenerating recovery codes needs an aal2 session' using errcode = '42501';
  end if;
  delete from private.mfa_recovery_codes c where c.user_id = p_user_id;
  for i in 1 .. 10 loop
    v_bytes := extensions.gen_random_bytes(12);
    v_code := '';
    for j in 0 .. 11 loop
      v_code := v_code || substr(v_alphabet, (get_byte(v_bytes, j) % 32) + 1, 1);
    end loop;
    insert into private.mfa_recovery_codes (user_id, code_hash)
    values (p_user_id, extensions.digest(v_code, 'sha256'));
    return next substr(v_code, 1, 4) || '-' || substr(v_code, 5, 4) || '-' || substr(v_code, 9, 4);
  end loop;
end;
$$;

comment on function private.mfa_regenerate_recovery_codes(uuid, text) is
  'Ten new single-use recovery codes (60 bits each), returned once; the old ones dropped; needs aal2.';

grant execute on function private.mfa_regenerate_recovery_codes(uuid, text) to service_role;
