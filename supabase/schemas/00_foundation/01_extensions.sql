-- pg_cron runs the scheduled SQL jobs of 95_cron (partition maintenance,
-- key-usage flush, counter sweeps).
create extension if not exists pg_cron with schema pg_catalog;
