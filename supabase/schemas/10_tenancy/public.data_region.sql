create type public.data_region as enum ('us-east', 'eu-west', 'apac-southeast');
