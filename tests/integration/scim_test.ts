// SCIM 2.0 as identity providers drive it (issue 28): the requests of Okta's
// SCIM 2.0 spec test (a count=1 listing, a filter that misses, a 404, a
// create, a duplicate 409, an upper-cased filter finding the user) and Entra
// ID's provisioning sequence (capitalised PATCH ops, "False" strings, the
// enterprise extension), then deactivation revoking sessions and deletion.
import assert from "node:assert/strict";
import { adminSql, client, createUser, stack } from "../support/stack.ts";

const SCIM = "application/scim+json";

Deno.test("Okta's and Entra ID's SCIM requests provision, change, deactivate and delete a member", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "scim-owner");
    const { data: org } = await client(owner.token).rpc("create_organization", {
      p_name: "SCIM",
      p_slug: `scim-${crypto.randomUUID().slice(0, 8)}`,
    });
    const key = await client(owner.token).rpc("create_api_key", {
      p_org_id: org!.id,
      p_name: "Okta SCIM",
      p_scopes: ["scim:provision"],
    });
    assert.equal(key.error, null);
    const secret = key.data![0].secret;
    const base = `${stack().apiUrl}/functions/v1/scim/v2`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": SCIM },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return {
        status: res.status,
        type: res.headers.get("content-type"),
        json: text ? JSON.parse(text) : null,
      };
    };

    // OKTA'S SPEC TEST
    let r = await call("GET", "/Users?count=1&startIndex=1");
    assert.equal(r.status, 200);
    assert.equal(r.type, SCIM);
    assert.deepEqual(r.json.schemas, [
      "urn:ietf:params:scim:api:messages:2.0:ListResponse",
    ]);
    r = await call(
      "GET",
      `/Users?filter=${
        encodeURIComponent('userName eq "nobody@scim.example"')
      }`,
    );
    assert.equal(r.json.totalResults, 0);
    r = await call("GET", `/Users/${crypto.randomUUID()}`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.json.schemas, [
      "urn:ietf:params:scim:api:messages:2.0:Error",
    ]);
    const email = `ada-${crypto.randomUUID().slice(0, 6)}@scim.example`;
    const user = {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
      userName: email,
      name: { givenName: "Ada", familyName: "Lovelace" },
      emails: [{ primary: true, value: email, type: "work" }],
      displayName: "Ada Lovelace",
      externalId: "00u1okta",
      active: true,
    };
    r = await call("POST", "/Users", user);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id;
    assert.equal(r.json.userName, email);
    assert.equal(r.json.active, true);
    r = await call("POST", "/Users", user);
    assert.equal(r.status, 409);
    assert.equal(r.json.scimType, "uniqueness");
    r = await call(
      "GET",
      `/Users?filter=${
        encodeURIComponent(`userName eq "${email.toUpperCase()}"`)
      }`,
    );
    assert.equal(r.json.totalResults, 1, "userName matches case-insensitively");
    assert.equal(r.json.Resources[0].id, id);

    const [member] =
      await sql`select m.status, m.role from public.organization_members m
                               join public.scim_users s on s.org_id = m.org_id and s.user_id = m.user_id
                               where s.id = ${id}`;
    assert.deepEqual({ ...member }, { status: "active", role: "member" });

    // ENTRA ID: capitalised ops, string booleans, the enterprise extension.
    r = await call("PATCH", `/Users/${id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        { op: "Replace", path: "displayName", value: "Ada King" },
        {
          op: "Add",
          path:
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
          value: "Engines",
        },
        { op: "Replace", path: 'emails[type eq "work"].value', value: email },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.displayName, "Ada King");
    assert.equal(
      r.json["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
        .department,
      "Engines",
    );

    // A session, then deactivation: Entra's "False", then Okta's path-less form.
    const [{ session_id }] = await sql`
      select session_id from private.start_sso_session(${org!.id},
        (select user_id from public.scim_users where id = ${id}), gen_random_uuid(), '[]')`;
    r = await call("PATCH", `/Users/${id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "Replace", path: "active", value: "False" }],
    });
    assert.equal(r.json.active, false);
    const [session] =
      await sql`select revoked_reason from public.sso_sessions where id = ${session_id}`;
    assert.equal(session.revoked_reason, "member deactivated");
    r = await call("PATCH", `/Users/${id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { active: true } }],
    });
    assert.equal(r.json.active, true);

    // Bad input is a SCIM error naming the problem, never a 5xx.
    r = await call("PATCH", `/Users/${id}`, {
      Operations: [{ op: "move", path: "active" }],
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.scimType, "invalidSyntax");
    r = await call(
      "GET",
      `/Users?filter=${encodeURIComponent('title sw "x"')}`,
    );
    assert.equal(r.status, 400);
    assert.equal(r.json.scimType, "invalidFilter");

    // DELETE removes the membership.
    r = await call("DELETE", `/Users/${id}`);
    assert.equal(r.status, 204);
    r = await call("GET", `/Users/${id}`);
    assert.equal(r.status, 404);

    // A key without the scope is refused.
    const plain = await client(owner.token).rpc("create_api_key", {
      p_org_id: org!.id,
      p_name: "No SCIM",
      p_scopes: ["customers:read"],
    });
    const refused = await fetch(`${base}/Users`, {
      headers: { Authorization: `Bearer ${plain.data![0].secret}` },
    });
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
  } finally {
    await sql.end();
  }
});

Deno.test("SCIM groups: members added and removed as Okta and Entra ID send them set roles by the connection's map", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "scim-groups-owner");
    const { data: org } = await client(owner.token).rpc("create_organization", {
      p_name: "SCIM groups",
      p_slug: `scimg-${crypto.randomUUID().slice(0, 8)}`,
    });
    const conn = await client(owner.token).rpc("create_sso_connection", {
      p_org_id: org!.id,
      p_protocol: "oidc",
      p_name: "IdP",
      p_oidc_issuer: "https://idp.example",
      p_oidc_client_id: "c",
      p_group_role_map: { Admins: "admin", Viewers: "read_only" },
    });
    assert.equal(conn.error, null);
    const key = await client(owner.token).rpc("create_api_key", {
      p_org_id: org!.id,
      p_name: "SCIM",
      p_scopes: ["scim:provision"],
    });
    const secret = key.data![0].secret;
    const base = `${stack().apiUrl}/functions/v1/scim/v2`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { Authorization: `Bearer ${secret}`, "Content-Type": SCIM },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    };
    const email = `grace-${crypto.randomUUID().slice(0, 6)}@scim.example`;
    const user = await call("POST", "/Users", {
      userName: email,
      active: true,
    });
    assert.equal(user.status, 201);
    const roleOf = async () =>
      (await sql`select m.role from public.organization_members m
                 join public.scim_users s on s.org_id = m.org_id and s.user_id = m.user_id
                 where s.id = ${user.json.id}`)[0].role;
    assert.equal(await roleOf(), "member");

    // Okta: create the group, then PATCH members in (add) and out (remove by filter).
    const group = await call("POST", "/Groups", {
      displayName: "Admins",
      members: [],
    });
    assert.equal(group.status, 201, JSON.stringify(group.json));
    let r = await call("PATCH", `/Groups/${group.json.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{
        op: "add",
        path: "members",
        value: [{ value: user.json.id }],
      }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.members.map((m: { value: string }) => m.value), [
      user.json.id,
    ]);
    assert.equal(
      await roleOf(),
      "admin",
      "the connection maps Admins to admin",
    );
    r = await call(
      "GET",
      `/Groups?filter=${encodeURIComponent('displayName eq "admins"')}`,
    );
    assert.equal(r.json.totalResults, 1);

    // Entra ID: capitalised Remove with a filtered path.
    r = await call("PATCH", `/Groups/${group.json.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{
        op: "Remove",
        path: `members[value eq "${user.json.id}"]`,
      }],
    });
    assert.deepEqual(r.json.members, []);
    const viewers = await call("POST", "/Groups", {
      displayName: "Viewers",
      members: [{ value: user.json.id }],
    });
    assert.equal(viewers.status, 201);
    assert.equal(await roleOf(), "read_only");

    // A group naming someone who is not provisioned is refused.
    r = await call("POST", "/Groups", {
      displayName: "Strangers",
      members: [{ value: crypto.randomUUID() }],
    });
    assert.equal(r.status, 400);
    r = await call("POST", "/Groups", { displayName: "viewers" });
    assert.equal(r.status, 409, "display names are unique, case-insensitively");
    r = await call("DELETE", `/Groups/${group.json.id}`);
    assert.equal(r.status, 204);
  } finally {
    await sql.end();
  }
});
