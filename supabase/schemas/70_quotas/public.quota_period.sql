-- The periods usage is counted and limited over: the UTC day and month.
create type public.quota_period as enum ('day', 'month');
