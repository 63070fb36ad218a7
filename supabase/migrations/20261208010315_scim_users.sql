-- SCIM 2.0 users (issue 28): the members identity providers provision, with
-- their SCIM ids and attributes as sent; the rules of provisioning (the auth
-- user, the membership, deactivation revoking sessions) in SQL.
-- Schema files: supabase/schemas/26_scim.

SET local check_function_bodies = off;

CREATE TABLE "public"."scim_users" (
  "org_id"       uuid                     NOT NULL,
  "id"           uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "user_id"      uuid                     NOT NULL,
  "user_name"    text                     NOT NULL,
  "external_id"  text,
  "display_name" text,
  "attributes"   jsonb                    NOT NULL DEFAULT '{}'::jsonb,
  "created_at"   timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"   timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "scim_users_attributes_object" CHECK (((jsonb_typeof(attributes) = 'object'::text) AND (octet_length((attributes)::text) <= 16384))),
  CONSTRAINT "scim_users_display_name_length" CHECK ((char_length(display_name) <= 255)),
  CONSTRAINT "scim_users_external_id_length" CHECK ((char_length(external_id) <= 255)),
  CONSTRAINT "scim_users_member_key" UNIQUE (org_id, user_id),
  CONSTRAINT "scim_users_pkey" PRIMARY KEY (org_id, id),
  CONSTRAINT "scim_users_user_name_length" CHECK (((char_length(user_name) >= 1) AND (char_length(user_name) <= 320)))
);

ALTER TABLE "public"."scim_users"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."scim_users" FROM "anon";

CREATE OR REPLACE FUNCTION private.scim_delete_user (
  p_org_id uuid,
  p_id     uuid
)
  RETURNS boolean
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_user_id uuid;
begin
  delete from public.scim_users u where u.org_id = p_org_id and u.id = p_id returning u.user_id into v_user_id;
  if v_user_id is null then
    return false;
  end if;
  delete from public.organization_members m where m.org_id = p_org_id and m.user_id = v_user_id;
  return true;
end;
$function$;

CREATE OR REPLACE FUNCTION private.scim_list_users (
  p_org_id      uuid,
  p_base        text,
  p_attribute   text    DEFAULT NULL::text,
  p_value       text    DEFAULT NULL::text,
  p_start_index integer DEFAULT 1,
  p_count       integer DEFAULT 100
)
  RETURNS TABLE (
    total     bigint,
    resources jsonb
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  with matched as (
    select u.id, u.created_at from public.scim_users u
    where u.org_id = p_org_id
      and (p_attribute is null
           or (p_attribute = 'username' and lower(u.user_name) = lower(p_value))
           or (p_attribute = 'externalid' and u.external_id = p_value)
           or (p_attribute = 'id' and u.id::text = p_value))
  )
  select (select count(*) from matched),
         coalesce((select jsonb_agg(private.scim_user_resource(p_org_id, p.id, p_base) order by p.created_at, p.id)
                   from (select m.id, m.created_at from matched m order by m.created_at, m.id
                         offset greatest(coalesce(p_start_index, 1), 1) - 1
                         limit least(greatest(coalesce(p_count, 100), 0), 500)) p), '[]')
$function$;

CREATE OR REPLACE FUNCTION private.scim_put_user (
  p_org_id   uuid,
  p_id       uuid,
  p_resource jsonb
)
  RETURNS uuid
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_user_name text := btrim(p_resource ->> 'userName');
  v_email text;
  v_active boolean := coalesce((p_resource ->> 'active')::boolean, true);
  v_user_id uuid;
  v_row public.scim_users;
begin
  if v_user_name is null or v_user_name = '' then
    raise exception 'userName is required' using errcode = '22023', detail = 'field: userName';
  end if;
  v_email := lower(coalesce(
    case when v_user_name ~ '^[^@\s]+@[^@\s]+$' then v_user_name end,
    (select e ->> 'value' from jsonb_array_elements(coalesce(p_resource -> 'emails', '[]')) e
     order by (e ->> 'primary')::boolean desc nulls last limit 1)));
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+$' then
    raise exception 'a user needs an email: a userName that is one, or emails[]'
      using errcode = '22023', detail = 'field: emails';
  end if;

  if p_id is null then
    if exists (select 1 from public.scim_users u where u.org_id = p_org_id and lower(u.user_name) = lower(v_user_name)) then
      raise exception 'userName % exists', v_user_name using errcode = '23505', detail = 'field: userName';
    end if;
    select u.id into v_user_id from auth.users u where lower(u.email) = v_email limit 1;
    if v_user_id is null then
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                              is_sso_user)
      values (gen_random_uuid(), 'authenticated', 'authenticated', v_email, now(),
              '{"provider": "scim", "providers": ["scim"]}', '{}', true)
      returning id into v_user_id;
    end if;
    insert into public.organization_members (org_id, user_id, role, status, email)
    values (p_org_id, v_user_id, 'member', case when v_active then 'active' else 'deactivated' end::public.member_status,
            v_email)
    on conflict (org_id, user_id) do update
      set status = excluded.status, email = excluded.email;
    insert into public.scim_users (org_id, user_id, user_name, external_id, display_name, attributes)
    values (p_org_id, v_user_id, v_user_name, p_resource ->> 'externalId', p_resource ->> 'displayName',
            p_resource - array['id', 'meta', 'userName', 'externalId', 'displayName', 'active', 'password'])
    returning * into v_row;
    return v_row.id;
  end if;

  update public.scim_users u
  set user_name = v_user_name, external_id = p_resource ->> 'externalId',
      display_name = p_resource ->> 'displayName',
      attributes = p_resource - array['id', 'meta', 'userName', 'externalId', 'displayName', 'active', 'password']
  where u.org_id = p_org_id and u.id = p_id
  returning * into v_row;
  if v_row.id is null then
    raise exception 'User % not found', p_id using errcode = 'PT404', detail = 'field: id';
  end if;
  update public.organization_members m
  set status = case when v_active then 'active' else 'deactivated' end::public.member_status
  where m.org_id = p_org_id and m.user_id = v_row.user_id
    and m.status <> case when v_active then 'active' else 'deactivated' end::public.member_status;
  return v_row.id;
end;
$function$;

CREATE OR REPLACE FUNCTION private.scim_user_resource (
  p_org_id uuid,
  p_id     uuid,
  p_base   text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select u.attributes || jsonb_build_object(
    'schemas', coalesce(u.attributes -> 'schemas', '["urn:ietf:params:scim:schemas:core:2.0:User"]'),
    'id', u.id,
    'userName', u.user_name,
    'active', m.status = 'active') ||
    case when u.external_id is null then '{}' else jsonb_build_object('externalId', u.external_id) end ||
    case when u.display_name is null then '{}' else jsonb_build_object('displayName', u.display_name) end ||
    jsonb_build_object('meta', jsonb_build_object(
      'resourceType', 'User',
      'created', to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'lastModified', to_char(u.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'location', p_base || '/Users/' || u.id,
      'version', 'W/"' || extract(epoch from u.updated_at)::bigint || '"'))
  from public.scim_users u
  join public.organization_members m on m.org_id = u.org_id and m.user_id = u.user_id
  where u.org_id = p_org_id and u.id = p_id
$function$;

ALTER TABLE "public"."scim_users"
  ADD CONSTRAINT "scim_users_org_id_fkey" FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE "public"."scim_users"
  ADD CONSTRAINT "scim_users_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

CREATE INDEX scim_users_external_id_idx ON public.scim_users USING btree (org_id, external_id)
  WHERE (external_id IS NOT NULL);

CREATE INDEX scim_users_user_idx ON public.scim_users USING btree (user_id);

CREATE UNIQUE INDEX scim_users_user_name_key ON public.scim_users USING btree (org_id, lower(user_name));

CREATE TRIGGER scim_users_set_updated_at
  BEFORE UPDATE ON public.scim_users
  FOR EACH ROW
  EXECUTE FUNCTION private.set_updated_at();

CREATE POLICY "Member readers can read their organization's provisioned users" ON "public"."scim_users"
  FOR SELECT
  TO "authenticated"
  USING ((org_id = ANY (( SELECT private.org_ids_with_permission('members:read'::text) AS org_ids_with_permission)::uuid[])));

COMMENT ON FUNCTION "private"."scim_delete_user"(uuid, uuid) IS 'Deprovisions a SCIM user: removes the membership (revoking its sessions) and the SCIM record.';

COMMENT ON FUNCTION "private"."scim_list_users"(uuid, text, text, text, integer, integer) IS 'A SCIM ListResponse page of provisioned users, filtered by userName (case-insensitive), externalId or id.';

COMMENT ON FUNCTION "private"."scim_put_user"(uuid, uuid, jsonb) IS 'Creates or replaces a SCIM-provisioned user and its membership from a SCIM User resource; returns its id.';

COMMENT ON FUNCTION "private"."scim_user_resource"(uuid, uuid, text) IS 'A provisioned user as a SCIM 2.0 User resource (attributes as sent, active from the membership).';

COMMENT ON TABLE "public"."scim_users" IS 'Members provisioned through SCIM: SCIM id, userName, externalId and the attributes as sent; the membership is organization_members.';

REVOKE ALL ON FUNCTION "private"."scim_delete_user"(uuid, uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."scim_delete_user"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_delete_user"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_delete_user"(uuid, uuid) TO "service_role";

REVOKE ALL ON FUNCTION "private"."scim_list_users"(uuid, text, text, text, integer, integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."scim_list_users"(uuid, text, text, text, integer, integer) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_list_users"(uuid, text, text, text, integer, integer) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_list_users"(uuid, text, text, text, integer, integer) TO "service_role";

REVOKE ALL ON FUNCTION "private"."scim_put_user"(uuid, uuid, jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."scim_put_user"(uuid, uuid, jsonb) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_put_user"(uuid, uuid, jsonb) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_put_user"(uuid, uuid, jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "private"."scim_user_resource"(uuid, uuid, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."scim_user_resource"(uuid, uuid, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_user_resource"(uuid, uuid, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."scim_user_resource"(uuid, uuid, text) TO "service_role";

REVOKE ALL ON TABLE "public"."scim_users" FROM "authenticated";

GRANT SELECT ON TABLE "public"."scim_users" TO "authenticated";

REVOKE ALL ON TABLE "public"."scim_users" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."scim_users" TO "postgres";

REVOKE ALL ON TABLE "public"."scim_users" FROM "service_role";

GRANT SELECT ON TABLE "public"."scim_users" TO "service_role";
