-- Hashes live apart from the listing table: no client query can return them.
-- Looked up by hash before the organization is known, hence unique on the hash.
create table private.api_key_secrets (
  key_hash bytea primary key,
  org_id uuid not null,
  key_id uuid not null,
  foreign key (org_id, key_id) references public.api_keys (org_id, id) on delete cascade
);

comment on table private.api_key_secrets is 'SHA-256 of each API key secret, the only form in which secrets are kept. RLS on with no policy: only definer functions reach it.';

alter table private.api_key_secrets enable row level security;

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index api_key_secrets_key_idx on private.api_key_secrets (org_id, key_id);
