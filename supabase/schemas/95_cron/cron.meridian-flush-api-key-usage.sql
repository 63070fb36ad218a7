-- Every minute: fold buffered API-key uses into api_keys (usage_count, last_used_at).
select cron.schedule('meridian-flush-api-key-usage', '* * * * *', 'select private.flush_api_key_usage()');
