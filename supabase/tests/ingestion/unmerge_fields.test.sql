-- Undoing a merge takes the merged profile's traits, contact fields, touches
-- and last seen out of the survivor, and gives the merged profile those its
-- calls set while the merge stood.
--
-- One merge: visitor V (plan free, name Vee, company unset; an organic search
-- visit) and customer C (plan trial, an email, name Cee, a company; a paid
-- search visit) merge into V. While merged, C moves to plan pro and comes back
-- from an email. Undone, V is a visitor with its own traits (its company unset
-- again) and touch, and C has pro, its email, name, company and last visit.
--
-- A chain: D (with an email) merges into E, E into the older F. Undoing D's
-- merge takes D's email out of F and of E.
begin;
select plan(12);

select tests.create_ingest_org('20202020-0000-4000-8000-000000000001', '20202020-0000-4000-8000-0000000000a1',
                               'fields', 'fields_admin');

create function pg_temp.ingest(p_type text, p_id text, p_sec int, p_anon text, p_user text,
                               p_extra jsonb default '{}')
returns jsonb language sql as $$
  select tests.ingest_with_ids('20202020-0000-4000-8000-000000000001', '20202020-0000-4000-8000-0000000000a1',
                               p_type, p_id, p_sec, p_anon, p_user, p_extra)
$$;
create temp table who (letter text primary key, id uuid not null);
create function pg_temp.remember(p_letter text, p_value text) returns void language sql as $$
  insert into who select p_letter, i.profile_id from public.identities i
  where i.org_id = '20202020-0000-4000-8000-000000000001' and i.value = p_value
$$;
create function pg_temp.profile(p_letter text) returns public.profiles language sql as $$
  select p.* from public.profiles p join who on who.id = p.id where who.letter = p_letter
$$;
create function pg_temp.unmerge(p_loser text) returns void language sql as $$
  select tests.unmerge_loser('20202020-0000-4000-8000-000000000001', (select id from who where letter = p_loser),
                             'fields_admin')
$$;
-- Test messages are sent at 2026-11-20 10:00:00 UTC plus p_sec seconds.
create function pg_temp.at(p_sec int) returns text language sql as $$
  select private.trait_stamp(timestamptz '2026-11-20 10:00:00+00' + make_interval(secs => p_sec))
$$;

-- ONE MERGE
select pg_temp.ingest('identify', 'v0', 0, 'v-1', null,
                      '{"traits": {"plan": "free", "name": "Vee", "$unset": ["company"]}}');
select pg_temp.ingest('page', 'v1', 5, 'v-1', null, '{"channel": "organic_search", "utm_source": "google"}');
select pg_temp.ingest('identify', 'c0', 10, null, 'cust',
                      '{"traits": {"plan": "trial", "email": "cee@c.example", "name": "Cee", "company": "C Inc"}}');
select pg_temp.ingest('page', 'c1', 12, null, 'cust', '{"channel": "paid_search", "utm_source": "google"}');
select pg_temp.remember('V', 'v-1');
select pg_temp.remember('C', 'cust');
select pg_temp.ingest('identify', 'vc', 20, 'v-1', 'cust');
select pg_temp.ingest('identify', 'c2', 30, null, 'cust', '{"traits": {"plan": "pro"}}');
select pg_temp.ingest('page', 'c3', 35, null, 'cust', '{"channel": "email", "utm_source": "newsletter"}');

select is((select (p.traits, p.email, p.name, p.last_touch ->> 'channel') from pg_temp.profile('V') p),
  ('{"plan": "pro", "name": "Cee", "email": "cee@c.example", "company": "C Inc"}'::jsonb, 'cee@c.example'::text,
   'Cee'::text,
   'email'::text),
  'while merged, V shows C''s traits, contact fields and last visit');

select pg_temp.unmerge('C');

select is((select p.traits from pg_temp.profile('V') p), '{"plan": "free", "name": "Vee"}'::jsonb,
  'undone, V has its own traits again, and none it had unset');
select is((select p.trait_timestamps from pg_temp.profile('V') p),
  jsonb_build_object('plan', pg_temp.at(0), 'name', pg_temp.at(0), 'company', pg_temp.at(0)),
  'with its own timestamps (its unset company too), and no trace of C''s email');
select is((select (p.email, p.name) from pg_temp.profile('V') p), (null::text, 'Vee'::text),
  'V has no email, and its own name');
select is((select (p.last_touch ->> 'channel', p.first_touch ->> 'channel') from pg_temp.profile('V') p),
  ('organic_search'::text, 'organic_search'::text), 'V''s touches are its organic search visit');
select is((select p.last_seen_at from pg_temp.profile('V') p), timestamptz '2026-11-20 10:00:20+00',
  'V was last seen at the merge message, its own latest event');
select is((select p.traits from pg_temp.profile('C') p),
  '{"plan": "pro", "name": "Cee", "email": "cee@c.example", "company": "C Inc"}'::jsonb,
  'C has its traits, with the plan it moved to while merged');
select is((select (p.email, p.name) from pg_temp.profile('C') p), ('cee@c.example'::text, 'Cee'::text),
  'C has its email and name');
select is((select (p.last_touch ->> 'channel', p.last_touch ->> 'at', p.last_seen_at) from pg_temp.profile('C') p),
  ('email'::text, pg_temp.at(35), timestamptz '2026-11-20 10:00:35+00'),
  'C''s last touch and last seen are its email visit while merged');

-- A CHAIN: F, then E, then D; D merges into E, E into F.
select pg_temp.ingest('page', 'f1', 100, 'f-1', null);
select pg_temp.ingest('page', 'e1', 110, 'e-1', null);
select pg_temp.ingest('identify', 'd1', 120, null, 'd-user', '{"traits": {"email": "dee@d.example"}}');
select pg_temp.remember('F', 'f-1');
select pg_temp.remember('E', 'e-1');
select pg_temp.remember('D', 'd-user');
select pg_temp.ingest('identify', 'de', 130, 'e-1', 'd-user');
select pg_temp.ingest('identify', 'ef', 140, 'f-1', 'd-user');

select pg_temp.unmerge('D');

select is((select (p.traits, p.email) from pg_temp.profile('F') p), ('{}'::jsonb, null::text),
  'undone, F, which held D''s email, has none');
select is((select (p.traits, p.email) from pg_temp.profile('E') p), ('{}'::jsonb, null::text),
  'nor has E, merged into F meanwhile');
select is((select p.email from pg_temp.profile('D') p), 'dee@d.example', 'D has its email');

select * from finish();
rollback;
