// OIDC sign-in end to end against a real OpenID Provider (oidc-provider) on
// loopback (issue 28): an owner configures the connection through supabase-js,
// a user signs in through the redirects, the app exchanges its one-time code
// with PKCE and reads the organization's data with supabase-js; a user is
// provisioned just in time with the role their groups map to; replayed states
// and codes, a wrong PKCE verifier, an unverified email and a foreign domain
// are all refused.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { adminSql, client, createUser, stack } from "../support/stack.ts";
import { startOpenIdProvider } from "../support/openid_provider.ts";
import { pkce } from "../support/sso_app.ts";

const APP = "http://localhost:3000/auth/callback";

Deno.test("OIDC sign-in through a real provider: redirects, PKCE exchange, RLS, JIT provisioning, refusals", async () => {
  const sql = adminSql();
  const callback = `${stack().apiUrl}/functions/v1/sso/oidc/callback`;
  const suffix = crypto.randomUUID().slice(0, 6);
  const member = `member-${suffix}@oidc.example`;
  const newcomer = `newcomer-${suffix}@oidc.example`;
  const unverified = `unverified-${suffix}@oidc.example`;
  const op = await startOpenIdProvider(callback, {
    [newcomer]: { groups: ["Engineering"] },
    [unverified]: { emailVerified: false },
  });
  try {
    const owner = await createUser(sql, "oidc-owner");
    const { data: org } = await client(owner.token).rpc("create_organization", {
      p_name: "OIDC",
      p_slug: `oidc-${suffix}`,
    });
    const existing = await createUser(sql, "oidc-member");
    await sql`update auth.users set email = ${member} where id = ${existing.id}`;
    await sql`insert into public.organization_members (org_id, user_id, role) values (${
      org!.id
    }, ${existing.id}, 'member')`;

    // The owner configures the connection through supabase-js and the sso function.
    const created = await client(owner.token).rpc("create_sso_connection", {
      p_org_id: org!.id,
      p_protocol: "oidc",
      p_name: "Local OP",
      p_oidc_issuer: op.issuer,
      p_oidc_client_id: op.clientId,
      p_allowed_email_domains: ["oidc.example"],
      p_jit_provisioning: true,
      p_group_role_map: { Engineering: "manager" },
      p_allowed_redirect_urls: [APP],
    });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const connectionId = created.data!.id;
    const secret = await fetch(
      `${stack().apiUrl}/functions/v1/sso/connections/${connectionId}/secret`,
      {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${owner.token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({
          org_id: org!.id,
          client_secret: op.clientSecret,
        }),
      },
    );
    assert.equal(secret.status, 200);
    await secret.body?.cancel();

    const signIn = async (email: string) => {
      const { verifier, challenge } = await pkce();
      const authorize = `${stack().apiUrl}/functions/v1/sso/authorize?` +
        new URLSearchParams({
          connection_id: connectionId,
          redirect_to: APP,
          code_challenge: challenge,
          code_challenge_method: "S256",
        });
      const back = await op.signIn(authorize, email);
      return { back, verifier };
    };
    const exchange = (code: string, verifier: string) =>
      fetch(`${stack().apiUrl}/functions/v1/sso/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          grant_type: "authorization_code",
          code,
          code_verifier: verifier,
        }),
      });

    // An existing member signs in and the app gets tokens for the code.
    const { back, verifier } = await signIn(member);
    assert.equal(back.status, 302, await back.clone().text());
    const returned = new URL(back.headers.get("location")!);
    assert.equal(`${returned.origin}${returned.pathname}`, APP);
    const code = returned.searchParams.get("code")!;
    const wrongVerifier = await exchange(code + "x", verifier);
    assert.equal(wrongVerifier.status, 400);
    await wrongVerifier.body?.cancel();
    const tokens = await exchange(code, verifier);
    assert.equal(tokens.status, 200);
    const { access_token } = await tokens.json();
    const replay = await exchange(code, verifier);
    assert.equal(replay.status, 400, "a code works once");
    await replay.body?.cancel();
    const db = createClient(stack().apiUrl, stack().keys.anonKey, {
      accessToken: () => Promise.resolve(access_token),
    });
    const members = await db.from("organization_members").select("user_id").eq(
      "org_id",
      org!.id,
    );
    assert.equal(
      members.data!.length,
      2,
      "the SSO session reads the organization under RLS",
    );

    // A newcomer is provisioned just in time, as a manager (Engineering).
    const jit = await signIn(newcomer);
    assert.equal(jit.back.status, 302);
    const [provisioned] =
      await sql`select m.role from public.organization_members m
                                    join auth.users u on u.id = m.user_id
                                    where m.org_id = ${
        org!.id
      } and u.email = ${newcomer}`;
    assert.equal(provisioned.role, "manager");

    // An unverified email is refused, and so is a replayed callback.
    const refused = await signIn(unverified);
    assert.equal(refused.back.status, 403);
    await refused.back.body?.cancel();
    const [failure] =
      await sql`select after ->> 'reason' as reason from public.audit_log
                                where org_id = ${
        org!.id
      } and action = 'sso.sign_in_failed'`;
    assert.match(
      failure.reason,
      /verified email/,
      "the refusal is audited with its reason",
    );
    const stale = await fetch(`${callback}?code=x&state=never-issued`, {
      redirect: "manual",
    });
    assert.equal(stale.status, 401);
    await stale.body?.cancel();

    // A redirect the connection does not allow is refused before the IdP.
    const evil = await fetch(
      `${stack().apiUrl}/functions/v1/sso/authorize?` + new URLSearchParams({
        connection_id: connectionId,
        redirect_to: "https://evil.example/steal",
        code_challenge: (await pkce()).challenge,
      }),
      { redirect: "manual" },
    );
    assert.equal(evil.status, 400);
    await evil.body?.cancel();
  } finally {
    await op.close();
    await sql.end();
  }
});
