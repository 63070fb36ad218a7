-- Every 10 minutes: forget SSO messages that have expired.
select cron.schedule('meridian-sweep-sso-used-assertions', '*/10 * * * *',
                     'select private.sweep_sso_used_assertions()');
