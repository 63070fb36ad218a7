-- Supabase Auth calls the hooks of 35_auth_hooks as supabase_auth_admin
-- (Supabase's documented grants).
grant usage on schema public to supabase_auth_admin;
