-- The fields of a message that resolution and the profile fold read, parsed once.
create type private.ingest_message as (
  pos int,               -- order of processing: timestamp, then position in the request
  ord int,               -- position in the request
  message_id text,
  type text,
  event text,
  ts timestamptz,
  revenue numeric,
  channel text,
  utm_source text,
  utm_medium text,
  utm_campaign text,
  traits jsonb,          -- identify only
  ids jsonb,             -- normalized identifiers, strongest first: [{type, value}]
  set_no int             -- the message's identifier set, numbered within the batch
);

comment on type private.ingest_message is
  'One accepted message as private.ingest_batch carries it between statements.';

comment on column private.ingest_message.set_no is
  'The number of the message''s identifier set within its batch (1 to n), null when it has none.';
