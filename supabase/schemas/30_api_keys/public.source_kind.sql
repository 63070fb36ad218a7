-- What kind of client a source is (public.sources).
create type public.source_kind as enum ('web', 'server', 'mobile');
