-- Token hashes live apart so no client query can ever return them.
create table private.invitation_tokens (
  token_hash bytea primary key,
  org_id uuid not null,
  invitation_id uuid not null,
  foreign key (org_id, invitation_id) references public.invitations (org_id, id) on delete cascade
);

comment on table private.invitation_tokens is
  'SHA-256 of invitation tokens. Looked up by hash before the organization is known.';

alter table private.invitation_tokens enable row level security;
