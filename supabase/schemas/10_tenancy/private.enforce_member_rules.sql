-- Trigger on organization_members (before insert, update, delete): owners make
-- owners; seats are enforced when a member becomes active. Trusted callers
-- (service role, migrations, cron) have no auth.uid() and pass.
-- The seat check locks the organization FOR NO KEY UPDATE: FOR UPDATE would
-- conflict with the KEY SHARE lock every foreign-key check on organizations
-- takes, so an activation would wait for every ingestion batch in flight
-- (tests/integration/member_activation_test.ts).
create or replace function private.enforce_member_rules()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  v_org public.organizations;
  v_active int;
begin
  -- The organization itself is being deleted: its members go with it.
  if tg_op = 'DELETE' and not exists (select 1 from public.organizations where id = old.org_id) then
    return old;
  end if;

  -- OWNERS MAKE OWNERS
  if tg_op in ('INSERT', 'UPDATE') and new.role = 'owner'
     and (tg_op = 'INSERT' or old.role <> 'owner')
     and v_uid is not null
     and not private.is_active_owner(new.org_id, v_uid)
     -- bootstrap: the creator of a new organization becomes its first owner
     and exists (select 1 from public.organization_members
                 where org_id = new.org_id and role = 'owner' and status = 'active')
  then
    raise exception 'only an owner can make another member an owner'
      using errcode = '42501', detail = 'field: role';
  end if;
  if tg_op in ('UPDATE', 'DELETE') and old.role = 'owner' and old.status = 'active'
     and (tg_op = 'DELETE' or new.role <> 'owner' or new.status <> 'active')
     and v_uid is not null
     and not private.is_active_owner(old.org_id, v_uid)
  then
    raise exception 'only an owner can change or remove an owner'
      using errcode = '42501', detail = 'field: role';
  end if;

  -- SEATS
  if tg_op in ('INSERT', 'UPDATE') and new.status = 'active'
     and (tg_op = 'INSERT' or old.status <> 'active')
  then
    -- Serialize activations per organization so concurrent accepts cannot overshoot;
    -- NO KEY UPDATE, so foreign-key checks of ingestion do not wait for it, nor it for them.
    select * into v_org from public.organizations where id = new.org_id for no key update;
    select count(*) into v_active from public.organization_members
    where org_id = new.org_id and status = 'active' and user_id <> new.user_id;
    if v_active >= v_org.seat_limit then
      raise exception 'seat limit reached: % of % seats on the % plan are in use',
        v_active, v_org.seat_limit, v_org.plan
        using errcode = '23514', hint = 'Upgrade the plan or deactivate a member.';
    end if;
    new.joined_at := coalesce(new.joined_at, now());
    new.deactivated_at := null;
  end if;
  if tg_op = 'UPDATE' and new.status = 'deactivated' and old.status <> 'deactivated' then
    new.deactivated_at := now();
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$;
