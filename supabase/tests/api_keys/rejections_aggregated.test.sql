-- A revoked key that keeps being sent costs one audit row per key, reason and
-- hour, plus one row with the hour's count once it is over; not one row per
-- request on the chain's head (issue 26, item 19).
begin;
select plan(5);

insert into public.organizations (id, name, slug)
values ('cccccccc-0000-4000-8000-0000000000a4', 'Revoked Inc', 'revoked-inc');
insert into public.api_keys (id, org_id, name, kind, environment, scopes, prefix, last_four, revoked_at)
values ('cccccccc-0000-4000-8000-0000000000b4', 'cccccccc-0000-4000-8000-0000000000a4', 'old', 'secret',
        'live', '{customers:read}', 'mk_live_revk', 'zzzz', now());
insert into private.api_key_secrets (key_hash, org_id, key_id)
values (extensions.digest('mk_live_revoked-secret', 'sha256'), 'cccccccc-0000-4000-8000-0000000000a4',
        'cccccccc-0000-4000-8000-0000000000b4');

create temp table answers (n int, accepted int);
do $$
begin
  for i in 1 .. 7 loop
    insert into answers
    select i, count(*) from private.verify_api_key('mk_live_revoked-secret', '198.51.100.4');
  end loop;
end $$;
select is((select sum(accepted)::int from answers), 0, 'the revoked key is refused all 7 times');
select is(
  (select count(*)::int from public.audit_log
   where org_id = 'cccccccc-0000-4000-8000-0000000000a4' and action = 'api_key.rejected'),
  1, 'only the hour''s first refusal is appended to the chain');
select is(
  (select rejections from private.api_key_rejections
   where key_id = 'cccccccc-0000-4000-8000-0000000000b4' and reason = 'revoked'),
  7, 'every refusal is counted');

-- The hour ends: its count is audited in one row.
update private.api_key_rejections set hour = hour - interval '1 hour'
where key_id = 'cccccccc-0000-4000-8000-0000000000b4';
select is(private.summarize_api_key_rejections(), 1, 'one summary for the finished hour');
select is(
  (select (after ->> 'rejections')::int from public.audit_log
   where org_id = 'cccccccc-0000-4000-8000-0000000000a4' and action = 'api_key.rejected'
   order by seq desc limit 1),
  7, 'the summary row carries the hour''s count');

select * from finish();
rollback;
