-- On a hosted project, every 5 seconds: pg_net calls the webhook-dispatch edge
-- function, which sends a few batches of due deliveries and returns. Where
-- pg_net is not installed (the local stack, whose scheduler plays this part
-- and also wakes the dispatcher on NOTIFY), nothing is scheduled. The URL and
-- the service role key come from Vault secrets of these names (docs/webhooks.md):
--   meridian_functions_url      e.g. https://<ref>.supabase.co/functions/v1
--   meridian_service_role_key   the project's service role key
do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    perform cron.schedule('meridian-webhook-dispatch', '5 seconds', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets
                where name = 'meridian_functions_url') || '/webhook-dispatch',
        headers := jsonb_build_object('Authorization', 'Bearer ' ||
          (select decrypted_secret from vault.decrypted_secrets where name = 'meridian_service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 60000)
    $job$);
  end if;
end;
$$;
