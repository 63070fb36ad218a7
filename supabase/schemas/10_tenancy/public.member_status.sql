create type public.member_status as enum ('invited', 'active', 'deactivated');
