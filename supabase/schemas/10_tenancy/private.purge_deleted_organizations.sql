-- Removes what deleted organizations still own, at most p_max_rows rows a call,
-- oldest deletion first; an organization leaves the queue once no table holds
-- a row with its org_id. The tables are every table of public and private with
-- an org_id column, read from the catalog, so a new tenant table is covered
-- without being listed here. Rows are picked by (tableoid, ctid): ctid alone is
-- not unique across the partitions of a partitioned table.
create or replace function private.purge_deleted_organizations(p_max_rows int default 10000)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org uuid;
  v_table regclass;
  v_deleted int;
  v_total int := 0;
begin
  for v_org in
    select p.org_id from private.organization_purges p
    order by p.deleted_at
    for update skip locked
  loop
    for v_table in
      select c.oid::regclass
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped
      where n.nspname in ('public', 'private') and c.relkind in ('r', 'p') and not c.relispartition
        and c.oid <> 'private.organization_purges'::regclass
      order by c.oid
    loop
      execute format(
        'delete from %s t where (t.tableoid, t.ctid) in '
        '(select s.tableoid, s.ctid from %s s where s.org_id = $1 limit $2)',
        v_table, v_table)
        using v_org, p_max_rows - v_total;
      get diagnostics v_deleted = row_count;
      v_total := v_total + v_deleted;
      -- Out of budget: this organization is finished by a later call.
      if v_total >= p_max_rows then
        return v_total;
      end if;
    end loop;
    delete from private.organization_purges p where p.org_id = v_org;
  end loop;
  return v_total;
end;
$$;

comment on function private.purge_deleted_organizations(int) is
  'Deletes up to p_max_rows rows still owned by deleted organizations (every table with org_id); run each minute by pg_cron.';
