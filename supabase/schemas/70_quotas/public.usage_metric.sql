-- What quotas meter.
create type public.usage_metric as enum ('events', 'api_calls', 'webhook_deliveries');
