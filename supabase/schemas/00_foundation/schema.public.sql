grant usage on schema public to supabase_auth_admin;
