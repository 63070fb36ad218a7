// SSO sessions over HTTP (issue 28): a session started
// as a sign-in would start it, its refresh token exchanged at /sso/token for
// an access token that supabase-js uses through its accessToken option, RLS
// reading the organization's data with it; rotation, reuse revoking the
// family, logout, and enforced SSO refusing a password session.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { adminSql, createUser, stack } from "../support/stack.ts";
import { refreshSession, sessionClient } from "../support/sso_app.ts";

async function refresh(refreshToken: string) {
  const res = await refreshSession(refreshToken);
  return { status: res.status, json: await res.json() };
}

Deno.test("an SSO session's tokens reach the organization's data, rotate, and end", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "sso-owner");
    const user = await createUser(sql, "sso-member");
    const [org] = await sql`insert into public.organizations (name, slug)
                            values ('SSO', ${
      "sso-" + crypto.randomUUID().slice(0, 8)
    }) returning id`;
    await sql`insert into public.organization_members (org_id, user_id, role) values
                (${org.id}, ${owner.id}, 'owner'), (${org.id}, ${user.id}, 'member')`;
    const connection = crypto.randomUUID();
    const [started] = await sql`
      select * from private.start_sso_session(${org.id}, ${user.id}, ${connection},
        ${
      sql.json([{ method: "sso/oidc", timestamp: 1, provider: connection }])
    })`;

    // The refresh token buys an access token in Supabase's shape.
    const first = await refresh(started.refresh_token);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.token_type, "bearer");
    const [, payload] = first.json.access_token.split(".");
    const claims = JSON.parse(
      atob(payload.replace(/-/g, "+").replace(/_/g, "/")),
    );
    assert.equal(claims.sub, user.id);
    assert.equal(claims.aud, "authenticated");
    assert.equal(claims.session_id, started.session_id);
    assert.equal(claims.app_metadata.org_id, org.id);
    assert.equal(claims.app_metadata.sso_connection_id, connection);
    assert.deepEqual(claims.amr.map((a: { method: string }) => a.method), [
      "sso/oidc",
    ]);

    // supabase-js with accessToken: RLS treats it like any session.
    const members = await sessionClient(first.json.access_token)
      .from("organization_members").select("user_id").eq("org_id", org.id);
    assert.equal(members.error, null);
    assert.equal(members.data!.length, 2);

    // Rotation: the child works; the parent, reused past the retry window,
    // revokes the family (the reuse interval is 10 s; the parent is reused
    // after its child was itself used, which no retry explains).
    const second = await refresh(first.json.refresh_token);
    assert.equal(second.status, 200);
    const third = await refresh(second.json.refresh_token);
    assert.equal(third.status, 200);
    const reused = await refresh(first.json.refresh_token);
    assert.equal(reused.status, 400);
    assert.equal(reused.json.error.code, "invalid_grant");
    assert.match(reused.json.error.message, /reused/);
    const afterReuse = await refresh(third.json.refresh_token);
    assert.equal(afterReuse.status, 400, "the whole family is revoked");

    // A revoked session's unexpired access token reads nothing any more.
    const revoked = await sessionClient(third.json.access_token)
      .from("organization_members").select("user_id").eq("org_id", org.id);
    assert.deepEqual(revoked.data, []);
  } finally {
    await sql.end();
  }
});

Deno.test("logout ends the session; with SSO enforced a password session reads nothing", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "sso-enforced-owner");
    const [org] =
      await sql`insert into public.organizations (name, slug, sso_enforced)
                            values ('Enforced', ${
        "enf-" + crypto.randomUUID().slice(0, 8)
      }, true) returning id`;
    await sql`insert into public.organization_members (org_id, user_id, role) values (${org.id}, ${owner.id}, 'owner')`;
    const [started] = await sql`
      select * from private.start_sso_session(${org.id}, ${owner.id}, ${crypto.randomUUID()},
        ${sql.json([{ method: "sso/saml", timestamp: 1 }])})`;
    const { json } = await refresh(started.refresh_token);

    // Enforced SSO: the password session (Supabase Auth's) sees nothing, the
    // SSO session sees the organization.
    const password = createClient(stack().apiUrl, stack().keys.anonKey, {
      global: { headers: { Authorization: `Bearer ${owner.token}` } },
    });
    const byPassword = await password.from("organizations").select("id").eq(
      "id",
      org.id,
    );
    assert.deepEqual(byPassword.data, []);
    const bySso = await sessionClient(json.access_token).from("organizations")
      .select("id").eq("id", org.id);
    assert.equal(bySso.data!.length, 1);

    // The session lists itself, then logs out.
    const listed = await fetch(`${stack().apiUrl}/functions/v1/sso/sessions`, {
      headers: { Authorization: `Bearer ${json.access_token}` },
    });
    assert.equal(listed.status, 200);
    const { sessions } = await listed.json();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].current, true);
    const out = await fetch(`${stack().apiUrl}/functions/v1/sso/logout`, {
      method: "POST",
      headers: { Authorization: `Bearer ${json.access_token}` },
    });
    assert.equal(out.status, 200);
    await out.body?.cancel();
    const after = await sessionClient(json.access_token).from("organizations")
      .select("id").eq("id", org.id);
    assert.deepEqual(after.data, []);
    assert.equal((await refresh(json.refresh_token)).status, 400);

    // An unknown SAML connection is a 404 naming it, not a 500.
    const metadata = await fetch(
      `${stack().apiUrl}/functions/v1/sso/saml/metadata/x`,
    );
    assert.equal(metadata.status, 404);
    assert.equal((await metadata.json()).error.code, "not_found");
  } finally {
    await sql.end();
  }
});

Deno.test("TOTP and recovery codes raise a session to aal2; bad codes lock the factor", async () => {
  const { TOTP, Secret } = await import("otpauth");
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "mfa-owner");
    const [org] =
      await sql`insert into public.organizations (name, slug, mfa_required)
                            values ('MFA', ${
        "mfa-" + crypto.randomUUID().slice(0, 8)
      }, true) returning id`;
    await sql`insert into public.organization_members (org_id, user_id, role) values (${org.id}, ${owner.id}, 'owner')`;
    const [started] = await sql`
      select * from private.start_sso_session(${org.id}, ${owner.id}, ${crypto.randomUUID()},
        ${sql.json([{ method: "sso/oidc", timestamp: 1 }])})`;
    const aal1 = (await refresh(started.refresh_token)).json.access_token;
    const call = (path: string, token: string, body?: unknown) =>
      fetch(`${stack().apiUrl}/functions/v1/sso${path}`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "content-type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    // MFA required: an aal1 session reads nothing.
    const before = await sessionClient(aal1).from("organizations").select("id")
      .eq("id", org.id);
    assert.deepEqual(before.data, []);

    // A body that is not JSON is a 400 naming the body, not a 500.
    const garbled = await fetch(
      `${stack().apiUrl}/functions/v1/sso/mfa/totp/verify`,
      {
        method: "POST",
        headers: {
          Authorization: `Bearer ${aal1}`,
          "content-type": "application/json",
        },
        body: "{not json",
      },
    );
    assert.equal(garbled.status, 400);
    assert.equal((await garbled.json()).error.details[0].field, "(body)");

    // Enroll, then verify a code from the authenticator (the test plays it).
    const enrolled = await (await call("/mfa/totp/enroll", aal1)).json();
    assert.match(enrolled.otpauth_url, /^otpauth:\/\/totp\//);
    const app = new TOTP({
      secret: Secret.fromBase32(enrolled.secret),
      digits: 6,
      period: 30,
    });
    const verified = await call("/mfa/totp/verify", aal1, {
      code: app.generate(),
    });
    assert.equal(verified.status, 200);
    const aal2 = await verified.json();
    assert.equal(aal2.aal, "aal2");
    const after = await sessionClient(aal2.access_token).from("organizations")
      .select("id").eq("id", org.id);
    assert.equal(after.data!.length, 1, "aal2 reads the organization");

    // Recovery codes (aal2), single use.
    const { codes } =
      await (await call("/mfa/recovery-codes", aal2.access_token)).json();
    assert.equal(codes.length, 10);
    assert.equal(
      (await call("/mfa/recovery/verify", aal1, { code: codes[0] })).status,
      200,
    );
    const again = await call("/mfa/recovery/verify", aal1, { code: codes[0] });
    assert.equal(again.status, 400);
    await again.body?.cancel();

    // Four more bad codes (five with the one above) lock the factor.
    for (let i = 0; i < 4; i++) {
      const bad = await call("/mfa/recovery/verify", aal1, {
        code: "AAAA-BBBB-CCCC",
      });
      await bad.body?.cancel();
    }
    const locked = await call("/mfa/recovery/verify", aal1, { code: codes[1] });
    assert.equal(locked.status, 429);
    assert.equal((await locked.json()).error.code, "mfa_locked");
  } finally {
    await sql.end();
  }
});

Deno.test("an OIDC client secret is stored encrypted, set only by an SSO manager", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "conn-owner");
    const member = await createUser(sql, "conn-member");
    const [org] = await sql`insert into public.organizations (name, slug)
                            values ('Conn', ${
      "conn-" + crypto.randomUUID().slice(0, 8)
    }) returning id`;
    await sql`insert into public.organization_members (org_id, user_id, role) values
                (${org.id}, ${owner.id}, 'owner'), (${org.id}, ${member.id}, 'member')`;
    const created = await createClient(stack().apiUrl, stack().keys.anonKey, {
      global: { headers: { Authorization: `Bearer ${owner.token}` } },
    }).rpc("create_sso_connection", {
      p_org_id: org.id,
      p_protocol: "oidc",
      p_name: "Okta",
      p_oidc_issuer: "https://example.okta.com",
      p_oidc_client_id: "meridian",
    });
    assert.equal(created.error, null);
    const put = (token: string) =>
      fetch(
        `${stack().apiUrl}/functions/v1/sso/connections/${
          created.data!.id
        }/secret`,
        {
          method: "PUT",
          headers: {
            Authorization: `Bearer ${token}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({
            org_id: org.id,
            client_secret: "s3cr3t-client-value",
          }),
        },
      );
    const denied = await put(member.token);
    assert.equal(denied.status, 403);
    await denied.body?.cancel();
    const ok = await put(owner.token);
    assert.equal(ok.status, 200, await ok.clone().text());
    await ok.body?.cancel();
    const [row] =
      await sql`select client_secret_encrypted::text as stored from private.sso_connection_secrets
                            where connection_id = ${created.data!.id}`;
    assert.ok(
      !row.stored.includes("s3cr3t"),
      "the secret is not stored in clear",
    );
  } finally {
    await sql.end();
  }
});
