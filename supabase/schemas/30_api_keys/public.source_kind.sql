-- SOURCES ---------------------------------------------------------------------------
-- Where events come from (a website, a backend, an app), as in Segment. Write
-- keys are bound to one source, so every event knows its origin.
create type public.source_kind as enum ('web', 'server', 'mobile');
