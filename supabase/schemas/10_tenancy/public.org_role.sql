create type public.org_role as enum ('owner', 'admin', 'manager', 'member', 'read_only');
