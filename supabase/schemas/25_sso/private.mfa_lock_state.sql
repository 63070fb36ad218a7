-- Until when a user's factor is locked, or null: 5 failures within 15 minutes
-- lock it for 30 minutes after the last of them; 20 failures from one address
-- within 15 minutes lock that address out of every account's factors for 30
-- minutes; and never more than 100 consecutive failures per account in any
-- configuration (NIST 800-63B 5.2.2): past that, only an admin's unlock
-- (private.mfa_failures cleared) helps. A success clears the user's failures.
create or replace function private.mfa_lock_state(p_user_id uuid, p_factor text, p_ip inet)
returns timestamptz
language sql
stable
security definer
set search_path = ''
as $$
  select case when l.until > now() then l.until end
  from (
    select greatest(
      (select case when count(*) >= 5 then m.last_at + interval '30 minutes' end
       from private.mfa_failures f,
            (select max(g.failed_at) as last_at from private.mfa_failures g
             where g.user_id = p_user_id and g.factor = p_factor) m
       where f.user_id = p_user_id and f.factor = p_factor
         and f.failed_at > m.last_at - interval '15 minutes'
       group by m.last_at),
      (select case when count(*) >= 20 then max(f.failed_at) + interval '30 minutes' end
       from private.mfa_failures f
       where p_ip is not null and f.ip = p_ip and f.failed_at > now() - interval '15 minutes'),
      (select case when count(*) >= 100 then 'infinity'::timestamptz end
       from private.mfa_failures f where f.user_id = p_user_id)
    ) as until
  ) l
$$;

comment on function private.mfa_lock_state(uuid, text, inet) is
  'Until when a user''s MFA factor is locked (null when not): 5 failures in 15 min lock it 30 min; 20 from one address lock the address; 100 in all until an admin unlocks.';
