-- A profile's stage, derived by private.lifecycle_stage_of (see
-- profiles.lifecycle_stage).
create type public.lifecycle_stage as enum ('anonymous', 'identified', 'engaged', 'customer');
