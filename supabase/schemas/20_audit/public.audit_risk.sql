create type public.audit_risk as enum ('low', 'medium', 'high', 'critical');
