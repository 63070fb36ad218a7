create type public.api_key_environment as enum ('live', 'test');
