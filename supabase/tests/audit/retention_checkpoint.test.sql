-- Once retention drops an organization's oldest audit partition, verification
-- from the start continues from the checkpoint recorded before the drop,
-- instead of reporting a sequence gap forever (issue 26, item 18).
begin;
select plan(7);

insert into public.organizations (id, name, slug)
values ('cccccccc-0000-4000-8000-0000000000a8', 'Retained Inc', 'retained-inc');
select private.append_audit('cccccccc-0000-4000-8000-0000000000a8', 'tests.step', 'tests', n::text)
from generate_series(1, 4) n;

-- A checkpoint the customer kept (audit.checkpoint's seq and hex hash).
select tests.create_supabase_user('retained_owner', 'owner@retained.example');
insert into public.organization_members (org_id, user_id, role)
values ('cccccccc-0000-4000-8000-0000000000a8', tests.get_supabase_uid('retained_owner'), 'owner');
select encode(hash, 'hex') as kept_hash from public.audit_log
where org_id = 'cccccccc-0000-4000-8000-0000000000a8' and seq = 3 \gset
select tests.authenticate_as('retained_owner');
select is((select ok from public.verify_audit_checkpoint('cccccccc-0000-4000-8000-0000000000a8', 3, :'kept_hash')), true,
  'a kept checkpoint matches the chain');
select is((select ok from public.verify_audit_checkpoint('cccccccc-0000-4000-8000-0000000000a8', 3, repeat('0', 64))), false,
  'a checkpoint the chain no longer has is reported');
reset role;
select throws_ok(
  $$ select * from public.verify_audit_checkpoint('cccccccc-0000-4000-8000-0000000000a8', 3, 'nope') $$,
  '22023', null, 'a hash that is no hex digest is refused');

-- What maintain_time_partitions does before dropping a partition: record the
-- newest row of each organization in it. Here the rows up to seq 3 "go".
select private.checkpoint_audit_partition(
  (select tableoid::regclass from public.audit_log
   where org_id = 'cccccccc-0000-4000-8000-0000000000a8' limit 1));
select is((select seq from private.audit_chain_checkpoints
           where org_id = 'cccccccc-0000-4000-8000-0000000000a8'),
  (select max(seq) from public.audit_log where org_id = 'cccccccc-0000-4000-8000-0000000000a8'),
  'the checkpoint is the newest row of the partition');
update private.audit_chain_checkpoints c set seq = a.seq, hash = a.hash
from public.audit_log a
where c.org_id = 'cccccccc-0000-4000-8000-0000000000a8' and a.org_id = c.org_id and a.seq = 3;

-- The drop, simulated: the rows up to the checkpoint disappear.
alter table public.audit_log disable trigger audit_log_append_only;
delete from public.audit_log where org_id = 'cccccccc-0000-4000-8000-0000000000a8' and seq <= 3;
alter table public.audit_log enable trigger audit_log_append_only;

select is((select ok from private.verify_audit_chain('cccccccc-0000-4000-8000-0000000000a8')), true,
  'verification from the start continues after the checkpoint');
select is((select rows_checked from private.verify_audit_chain('cccccccc-0000-4000-8000-0000000000a8')),
  (select count(*) from public.audit_log where org_id = 'cccccccc-0000-4000-8000-0000000000a8'),
  'and checks the rows still held');

-- Without the checkpoint the same chain shows the gap: the test can fail.
delete from private.audit_chain_checkpoints where org_id = 'cccccccc-0000-4000-8000-0000000000a8';
select alike((select reason from private.verify_audit_chain('cccccccc-0000-4000-8000-0000000000a8')),
  'sequence gap%', 'without a checkpoint the dropped rows read as a gap');

select * from finish();
rollback;
