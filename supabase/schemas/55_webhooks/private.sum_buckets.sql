-- The element-wise sum of histograms of equal length (a 2-D array, one
-- histogram per row), for the webhook latency rollup.
create or replace function private.sum_buckets(p_histograms int[])
returns int[]
language sql
immutable
set search_path = ''
as $$
  select array_agg(s.total order by s.i)
  from (
    select b.i, sum(p_histograms[r][b.i])::int as total
    from generate_subscripts(p_histograms, 1) r,
         generate_subscripts(p_histograms, 2) b (i)
    group by b.i
  ) s
$$;

comment on function private.sum_buckets(int[]) is
  'Element-wise sum of the rows of a 2-D array of latency histograms.';
