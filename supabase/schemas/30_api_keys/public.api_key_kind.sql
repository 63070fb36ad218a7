create type public.api_key_kind as enum ('secret', 'write');
