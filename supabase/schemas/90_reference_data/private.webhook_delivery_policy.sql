-- https to public addresses only; supabase/seed.sql allows local receivers.
insert into private.webhook_delivery_policy (id, allow_insecure_destinations) values (true, false)
on conflict (id) do nothing;
