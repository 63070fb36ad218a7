select cron.schedule('meridian-sweep-usage-counters', '41 3 * * *',
                     'select private.sweep_usage_counters()');
