-- Every five minutes: one audit row per key and finished hour of refusals.
select cron.schedule('meridian-summarize-api-key-rejections', '*/5 * * * *',
                     'select private.summarize_api_key_rejections()');
