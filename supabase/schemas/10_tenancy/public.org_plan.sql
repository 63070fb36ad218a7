create type public.org_plan as enum ('free', 'starter', 'professional', 'enterprise');
