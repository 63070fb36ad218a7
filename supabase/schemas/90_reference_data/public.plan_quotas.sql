-- Each plan's quotas by metric and period (hard quotas refuse, soft ones only notify).
insert into public.plan_quotas (plan, metric, period, quota, hard) values
  ('free', 'events', 'month', 100000, true),
  ('free', 'api_calls', 'day', 10000, true),
  ('free', 'webhook_deliveries', 'month', 10000, true),
  ('starter', 'events', 'month', 1000000, true),
  ('starter', 'api_calls', 'day', 100000, true),
  ('starter', 'webhook_deliveries', 'month', 100000, true),
  ('professional', 'events', 'month', 10000000, true),
  ('professional', 'api_calls', 'day', 1000000, true),
  ('professional', 'webhook_deliveries', 'month', 1000000, true),
  -- Enterprise contracts bill overage rather than refuse work: soft quotas.
  ('enterprise', 'events', 'month', 100000000, false),
  ('enterprise', 'api_calls', 'day', 10000000, false),
  ('enterprise', 'webhook_deliveries', 'month', 10000000, false)
on conflict (plan, metric, period) do update set
  quota = excluded.quota,
  hard = excluded.hard;
