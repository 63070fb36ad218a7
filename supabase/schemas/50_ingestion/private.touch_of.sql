-- A touch (first_touch, last_touch) as the profile fold builds it from an event.
create or replace function private.touch_of(p_channel text, p_source text, p_medium text, p_campaign text,
                                 p_at timestamptz)
returns jsonb
language sql
stable -- to_char and jsonb_build_object are
set search_path = ''
as $$
  select case when p_channel is not null then pg_catalog.jsonb_build_object(
    'channel', p_channel, 'source', p_source, 'medium', p_medium, 'campaign', p_campaign,
    'at', private.trait_stamp(p_at)) end
$$;

comment on function private.touch_of(text, text, text, text, timestamptz) is
  'The touch an event with a channel makes: channel, source, medium, campaign and when.';
