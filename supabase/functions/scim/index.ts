// SCIM 2.0 (RFC 7643/7644) at /functions/v1/scim/v2: identity providers (Okta,
// Entra ID) provision an organization's members. The bearer is an API key with
// the scim:provision scope, which names the organization. Built: /Users (GET
// with eq filters on userName, externalId and id, and startIndex/count paging;
// POST; GET, PUT, PATCH, DELETE by id), /ServiceProviderConfig, /ResourceTypes,
// /Schemas, and /Groups (displayName eq filter; POST; GET, PUT, PATCH with
// Okta's and Entra ID's member operations, DELETE by id), whose names the SSO
// connections map to roles. The
// rules (who a user is, the membership, deactivation revoking sessions) are in
// SQL: private.scim_put_user, private.scim_delete_user.
import { authenticate } from "../_shared/auth.ts";
import { readLimitedText } from "../_shared/body.ts";
import { sql } from "../_shared/db.ts";
import { HttpError } from "../_shared/errors.ts";
import { corsHeaders } from "../_shared/http.ts";
import { applyPatch, PatchError } from "./patch.ts";

const db = () => sql({ statementTimeoutMs: 10_000 });
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";

function scim(body: unknown, status = 200): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, "Content-Type": "application/scim+json" },
  });
}

function scimError(
  status: number,
  detail: string,
  scimType?: string,
): Response {
  return scim({
    schemas: [ERROR_SCHEMA],
    status: String(status),
    detail,
    ...(scimType ? { scimType } : {}),
  }, status);
}

/** `attr eq "value"`, the filter provisioning clients send; anything else is refused. */
function parseFilter(
  filter: string | null,
): { attribute: string; value: string } | null {
  if (!filter) return null;
  const m = filter.match(
    /^\s*(userName|externalId|id)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i,
  );
  if (!m) {
    throw new PatchError(
      "invalidFilter",
      `unsupported filter: ${filter} (use userName, externalId or id eq "...")`,
    );
  }
  return { attribute: m[1].toLowerCase(), value: m[2].replace(/\\(.)/g, "$1") };
}

async function readJson(req: Request): Promise<Record<string, unknown>> {
  const text = await readLimitedText(req, 64 * 1024);
  try {
    const v = JSON.parse(text);
    if (v && typeof v === "object" && !Array.isArray(v)) return v;
  } catch {
    // Answered below, as SCIM's invalidSyntax.
  }
  throw new PatchError("invalidSyntax", "the body must be a JSON object");
}

async function userResource(orgId: string, id: string, base: string) {
  const [row] =
    await db()`select private.scim_user_resource(${orgId}::uuid, ${id}::uuid, ${base}) as r`;
  return row?.r ?? null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

Deno.serve(async (req) => {
  try {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/scim\/v2/, "");
    const base = `${Deno.env.get("SUPABASE_URL") ?? ""}/functions/v1/scim/v2`;
    const principal = await authenticate(req, db());
    if (
      principal.kind !== "api_key" ||
      !principal.permissions.includes("scim:provision")
    ) {
      return scimError(
        403,
        "an API key with the scim:provision scope is required",
      );
    }
    const orgId = principal.orgId;

    if (path === "/ServiceProviderConfig") {
      return scim({
        schemas: [
          "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
        ],
        patch: { supported: true },
        bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
        filter: { supported: true, maxResults: 500 },
        changePassword: { supported: false },
        sort: { supported: false },
        etag: { supported: false },
        authenticationSchemes: [{
          type: "oauthbearertoken",
          name: "API key",
          description: "An API key with scim:provision",
        }],
      });
    }
    if (path === "/ResourceTypes") {
      return scim({
        schemas: [LIST_SCHEMA],
        totalResults: 2,
        Resources: [{
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
          id: "Group",
          name: "Group",
          endpoint: "/Groups",
          schema: "urn:ietf:params:scim:schemas:core:2.0:Group",
        }, {
          schemas: ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
          id: "User",
          name: "User",
          endpoint: "/Users",
          schema: USER_SCHEMA,
          schemaExtensions: [{
            schema:
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            required: false,
          }],
        }],
      });
    }
    if (path === "/Schemas") {
      return scim({
        schemas: [LIST_SCHEMA],
        totalResults: 1,
        Resources: [{
          id: USER_SCHEMA,
          name: "User",
          attributes: [
            {
              name: "userName",
              type: "string",
              required: true,
              caseExact: false,
              uniqueness: "server",
            },
            {
              name: "externalId",
              type: "string",
              required: false,
              caseExact: true,
            },
            { name: "active", type: "boolean", required: false },
            {
              name: "emails",
              type: "complex",
              multiValued: true,
              required: false,
            },
          ],
        }],
      });
    }
    if (path === "/Groups" && req.method === "GET") {
      const filter = url.searchParams.get("filter");
      const m = filter?.match(
        /^\s*displayName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i,
      );
      if (filter && !m) {
        throw new PatchError(
          "invalidFilter",
          `unsupported filter: ${filter} (use displayName eq "...")`,
        );
      }
      const name = m?.[1] ?? null;
      const rows = await db()`
        select private.scim_group_resource(g.org_id, g.id, ${base}) as r from public.scim_groups g
        where g.org_id = ${orgId}::uuid and (${name}::text is null or lower(g.display_name) = lower(${name}::text))
        order by g.created_at, g.id`;
      return scim({
        schemas: [LIST_SCHEMA],
        totalResults: rows.length,
        startIndex: 1,
        itemsPerPage: rows.length,
        Resources: rows.map((row) => row.r),
      });
    }
    if (path === "/Groups" && req.method === "POST") {
      const body = await readJson(req);
      const [row] =
        await db()`select private.scim_put_group(${orgId}::uuid, null, ${
          db().json(body as never)
        }) as id`;
      const [g] =
        await db()`select private.scim_group_resource(${orgId}::uuid, ${row.id}::uuid, ${base}) as r`;
      return scim(g.r, 201);
    }
    const group = path.match(/^\/Groups\/([^/]+)$/);
    if (group) {
      if (!UUID.test(group[1])) {
        return scimError(404, `Group ${group[1]} not found`);
      }
      const [g] =
        await db()`select private.scim_group_resource(${orgId}::uuid, ${
          group[1]
        }::uuid, ${base}) as r`;
      if (!g?.r) return scimError(404, `Group ${group[1]} not found`);
      if (req.method === "GET") return scim(g.r);
      if (req.method === "DELETE") {
        await db()`delete from public.scim_groups where org_id = ${orgId}::uuid and id = ${
          group[1]
        }::uuid`;
        return scim(null, 204);
      }
      if (req.method === "PUT" || req.method === "PATCH") {
        const body = await readJson(req);
        const next = req.method === "PUT" ? body : applyPatch(g.r, body);
        await db()`select private.scim_put_group(${orgId}::uuid, ${
          group[1]
        }::uuid, ${db().json(next as never)})`;
        const [after] =
          await db()`select private.scim_group_resource(${orgId}::uuid, ${
            group[1]
          }::uuid, ${base}) as r`;
        return scim(after.r);
      }
    }

    if (path === "/Users" && req.method === "GET") {
      const filter = parseFilter(url.searchParams.get("filter"));
      const startIndex = Number(url.searchParams.get("startIndex") ?? 1);
      const count = Number(url.searchParams.get("count") ?? 100);
      const [page] = await db()`
        select * from private.scim_list_users(${orgId}::uuid, ${base}, ${
        filter?.attribute ?? null
      },
          ${filter?.value ?? null}, ${startIndex}, ${count})`;
      return scim({
        schemas: [LIST_SCHEMA],
        totalResults: Number(page.total),
        startIndex: Math.max(1, startIndex || 1),
        itemsPerPage: page.resources.length,
        Resources: page.resources,
      });
    }
    if (path === "/Users" && req.method === "POST") {
      const body = await readJson(req);
      const [row] =
        await db()`select private.scim_put_user(${orgId}::uuid, null, ${
          db().json(body as never)
        }) as id`;
      return scim(await userResource(orgId, row.id, base), 201);
    }
    const one = path.match(/^\/Users\/([^/]+)$/);
    if (one) {
      if (!UUID.test(one[1])) return scimError(404, `User ${one[1]} not found`);
      const current = await userResource(orgId, one[1], base);
      if (!current) return scimError(404, `User ${one[1]} not found`);
      if (req.method === "GET") return scim(current);
      if (req.method === "DELETE") {
        await db()`select private.scim_delete_user(${orgId}::uuid, ${
          one[1]
        }::uuid)`;
        return scim(null, 204);
      }
      if (req.method === "PUT" || req.method === "PATCH") {
        const body = await readJson(req);
        const next = req.method === "PUT" ? body : applyPatch(current, body);
        await db()`select private.scim_put_user(${orgId}::uuid, ${
          one[1]
        }::uuid, ${db().json(next as never)})`;
        return scim(await userResource(orgId, one[1], base));
      }
    }
    return scimError(404, `No route ${req.method} ${path}`);
  } catch (err) {
    if (err instanceof PatchError) {
      return scimError(400, err.message, err.scimType);
    }
    if (err instanceof HttpError) return scimError(err.status, err.message);
    const code = (err as { code?: string }).code;
    if (code === "23505") {
      return scimError(409, (err as Error).message, "uniqueness");
    }
    if (code === "22023" || code === "22P02" || code === "23514") {
      return scimError(400, (err as Error).message, "invalidValue");
    }
    if (code === "PT404") return scimError(404, (err as Error).message);
    console.error("scim: unhandled", err);
    return scimError(500, "Internal error");
  }
});
