create type public.quota_period as enum ('day', 'month');
