-- The catalogue of webhook event types: what each means, the JSON Schema of
-- its `data`, and an example. private.emit_webhook_event refuses a type that is
-- not here, so every event a customer receives is documented. Each capability
-- adds its types (rows in 90_reference_data/public.webhook_event_types.sql).
create table public.webhook_event_types (
  type text primary key constraint webhook_event_types_type_format
    check (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
  description text not null,
  schema jsonb not null constraint webhook_event_types_schema_object
    check (jsonb_typeof(schema) = 'object'),
  example jsonb not null constraint webhook_event_types_example_object
    check (jsonb_typeof(example) = 'object')
);

comment on table public.webhook_event_types is
  'Catalogue of webhook event types: description, JSON Schema of the data, and an example.';

revoke all on public.webhook_event_types from anon, authenticated, service_role;
grant select on public.webhook_event_types to authenticated, service_role;

alter table public.webhook_event_types enable row level security;

create policy "Signed-in users can read the event type catalogue"
  on public.webhook_event_types for select to authenticated
  using (true);
