-- Every minute: delete rate-limit buckets whose windows have both passed.
select cron.schedule('meridian-sweep-rate-limits', '* * * * *',
                     'select private.sweep_rate_limit_counters()');
