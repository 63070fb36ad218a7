-- PROFILES ------------------------------------------------------------------------
create type public.lifecycle_stage as enum ('anonymous', 'identified', 'engaged', 'customer');
