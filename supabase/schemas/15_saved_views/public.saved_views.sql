-- A user's named dashboard filters: the first user-owned table, and the proof
-- that row-level security holds end to end (PostgREST, supabase-js, RPC): each
-- signed-in user sees and changes only their own views.
create table public.saved_views (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid()
    references auth.users (id) on delete cascade,
  name text not null
    constraint saved_views_name_length check (char_length(btrim(name)) between 1 and 120),
  definition jsonb not null default '{}'::jsonb
    constraint saved_views_definition_is_object check (jsonb_typeof(definition) = 'object')
    -- A filter, not a document store: 64 KB is far more than any dashboard
    -- writes, and bounds what one user can make every read of the table carry.
    constraint saved_views_definition_size check (octet_length(definition::text) <= 65536),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint saved_views_owner_name_key unique (owner_id, name)
);

comment on table public.saved_views is
  'Named dashboard filters, private to the user who saved them.';

comment on column public.saved_views.owner_id is
  'The auth.users id of the owner; defaults to the caller and is enforced by RLS.';

comment on column public.saved_views.definition is
  'The filter as a JSON object, interpreted by the dashboard.';

create trigger saved_views_set_updated_at
  before update on public.saved_views
  for each row execute function private.set_updated_at();

-- GRANTS --------------------------------------------------------------------------
-- Anonymous callers have no business here at all; users may not move a view to
-- another owner, so owner_id is left out of the UPDATE column grant.
revoke all on public.saved_views from anon;

revoke all on public.saved_views from authenticated;

grant select, insert, delete on public.saved_views to authenticated;

grant update (name, definition) on public.saved_views to authenticated;

grant all on public.saved_views to service_role;

-- ROW-LEVEL SECURITY ----------------------------------------------------------------
alter table public.saved_views enable row level security;

create policy "Users can read their own saved views"
  on public.saved_views for select to authenticated
  using (owner_id = (select auth.uid()));

create policy "Users can create saved views for themselves"
  on public.saved_views for insert to authenticated
  with check (owner_id = (select auth.uid()));

create policy "Users can update their own saved views"
  on public.saved_views for update to authenticated
  using (owner_id = (select auth.uid()))
  with check (owner_id = (select auth.uid()));

create policy "Users can delete their own saved views"
  on public.saved_views for delete to authenticated
  using (owner_id = (select auth.uid()));
