-- Daily: delete settled webhook deliveries past the 90 days events are kept.
select cron.schedule('meridian-sweep-webhook-deliveries', '23 4 * * *',
                     'select private.sweep_webhook_deliveries()');
