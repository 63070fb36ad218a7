-- Daily: delete daily usage counters older than 400 days.
select cron.schedule('meridian-sweep-usage-counters', '41 3 * * *',
                     'select private.sweep_usage_counters()');
