create domain public.slug as text
  constraint slug_format check (value ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$');

comment on domain public.slug is
  'URL-safe identifier: 1-63 lowercase letters, digits and inner hyphens.';
