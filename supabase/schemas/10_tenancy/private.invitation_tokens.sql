-- Token hashes live apart so no client query can ever return them.
create table private.invitation_tokens (
  token_hash bytea primary key,
  org_id uuid not null,
  invitation_id uuid not null,
  foreign key (org_id, invitation_id) references public.invitations (org_id, id) on delete cascade
);

comment on table private.invitation_tokens is
  'SHA-256 of invitation tokens. Looked up by hash before the organization is known. RLS on with no policy: only definer functions reach it.';

alter table private.invitation_tokens enable row level security;

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index invitation_tokens_invitation_idx on private.invitation_tokens (org_id, invitation_id);
