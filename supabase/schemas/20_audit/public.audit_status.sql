create type public.audit_status as enum ('success', 'failure');
