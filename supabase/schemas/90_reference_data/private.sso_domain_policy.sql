-- DNS TXT proof required for SSO domains; supabase/seed.sql waives it locally.
insert into private.sso_domain_policy (id, dns_verification_required) values (true, true)
on conflict (id) do nothing;
