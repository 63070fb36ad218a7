select cron.schedule('meridian-flush-api-key-usage', '* * * * *', 'select private.flush_api_key_usage()');
