// OIDC logout end to end against a real OpenID Provider (oidc-provider) on
// loopback: RP-initiated logout (POST /sso/logout answers the provider's
// end-session URL) and OpenID Connect Back-Channel Logout 1.0, where the
// provider itself POSTs its logout token to
// /sso/oidc/backchannel-logout/<connection id> when a session at the provider
// ends. A revoked session reads nothing under RLS and refreshes no more; only
// the sessions the token names are revoked; forged, foreign, malformed and
// replayed tokens are refused and audited.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import {
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  type JWTHeaderParameters,
  SignJWT,
  UnsecuredJWT,
} from "jose";
import type postgres from "postgres";
import { adminSql, client, createUser, stack } from "../support/stack.ts";
import {
  type Browser,
  type OpenIdProvider,
  startOpenIdProvider,
} from "../support/openid_provider.ts";
import { pkce } from "../support/sso_app.ts";

const APP = "http://localhost:3000/auth/callback";
const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";

type Session = {
  id: string;
  email: string;
  accessToken: string;
  refreshToken: string;
};

type Setup = {
  sql: postgres.Sql;
  op: OpenIdProvider;
  orgId: string;
  connectionId: string;
  backchannelUrl: string;
  domain: string;
  signIn(email: string, browser?: Browser): Promise<Session>;
  close(): Promise<void>;
};

/**
 * An organization with an OIDC connection to a fresh provider whose client
 * has this connection's back-channel logout URI and the app as its
 * post-logout redirect; users are provisioned just in time at sign-in.
 */
async function setUp(
  label: string,
  { sessionRequired = true, rpInitiatedLogout = true } = {},
): Promise<Setup> {
  const sql = adminSql();
  const api = stack().apiUrl;
  const suffix = crypto.randomUUID().slice(0, 6);
  const domain = `${label}-${suffix}.example`;
  const op = await startOpenIdProvider(
    `${api}/functions/v1/sso/oidc/callback`,
    {},
    { rpInitiatedLogout },
  );
  try {
    const owner = await createUser(sql, `${label}-owner`);
    const { data: org, error } = await client(owner.token).rpc(
      "create_organization",
      { p_name: label, p_slug: `${label}-${suffix}` },
    );
    assert.equal(error, null, JSON.stringify(error));
    // The organization holds the domain (as if proved by DNS): a sign-in
    // then does not depend on the stack's local verification policy, which
    // another test may switch on while this one runs.
    await sql`insert into public.sso_domains (org_id, domain, verified_at)
              values (${org!.id}, ${domain}, now())`;
    const created = await client(owner.token).rpc("create_sso_connection", {
      p_org_id: org!.id,
      p_protocol: "oidc",
      p_name: "Local OP",
      p_oidc_issuer: op.issuer,
      p_oidc_client_id: op.clientId,
      p_allowed_email_domains: [domain],
      p_jit_provisioning: true,
      p_allowed_redirect_urls: [APP],
    });
    assert.equal(created.error, null, JSON.stringify(created.error));
    const connectionId = created.data!.id;
    const secret = await fetch(
      `${api}/functions/v1/sso/connections/${connectionId}/secret`,
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

    // The URI names the connection, which exists only now: registered with
    // the provider after the fact, as an IdP administrator would.
    const backchannelUrl =
      `${api}/functions/v1/sso/oidc/backchannel-logout/${connectionId}`;
    await op.configureClient({
      backchannel_logout_uri: backchannelUrl,
      // With it, ID tokens and logout tokens carry the provider's sid.
      backchannel_logout_session_required: sessionRequired,
      ...(rpInitiatedLogout ? { post_logout_redirect_uris: [APP] } : {}),
    });

    const signIn = async (email: string, browser?: Browser) => {
      const { verifier, challenge } = await pkce();
      const back = await op.signIn(
        `${api}/functions/v1/sso/authorize?` + new URLSearchParams({
          connection_id: connectionId,
          redirect_to: APP,
          code_challenge: challenge,
          code_challenge_method: "S256",
        }),
        email,
        browser,
      );
      assert.equal(back.status, 302, await back.clone().text());
      await back.body?.cancel();
      const code = new URL(back.headers.get("location")!).searchParams.get(
        "code",
      );
      const tokens = await fetch(`${api}/functions/v1/sso/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          grant_type: "authorization_code",
          code,
          code_verifier: verifier,
        }),
      });
      assert.equal(tokens.status, 200);
      const json = await tokens.json();
      return {
        id: decodeJwt(json.access_token).session_id as string,
        email,
        accessToken: json.access_token,
        refreshToken: json.refresh_token,
      };
    };
    return {
      sql,
      op,
      orgId: org!.id,
      connectionId,
      backchannelUrl,
      domain,
      signIn,
      close: async () => {
        await op.close();
        await sql.end();
      },
    };
  } catch (err) {
    await op.close();
    await sql.end();
    throw err;
  }
}

/** Whether the session reads its organization's data under RLS. */
async function reads(s: Setup, session: Session): Promise<boolean> {
  const db = createClient(stack().apiUrl, stack().keys.anonKey, {
    accessToken: () => Promise.resolve(session.accessToken),
  });
  const { data, error } = await db.from("organization_members")
    .select("user_id").eq("org_id", s.orgId);
  assert.equal(error, null, JSON.stringify(error));
  return data!.length > 0;
}

async function refreshStatus(session: Session): Promise<number> {
  const res = await fetch(`${stack().apiUrl}/functions/v1/sso/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      grant_type: "refresh_token",
      refresh_token: session.refreshToken,
    }),
  });
  await res.body?.cancel();
  return res.status;
}

/**
 * Revoked: RLS answers nothing and the refresh token is refused. (A live
 * session is checked with reads() alone: refreshing it would rotate its
 * refresh token.)
 */
async function assertRevoked(s: Setup, session: Session, why: string) {
  assert.equal(await reads(s, session), false, `${why}: RLS still reads`);
  assert.equal(await refreshStatus(session), 400, `${why}: still refreshes`);
}

async function sessionRow(s: Setup, session: Session) {
  const [row] = await s.sql`
    select idp_subject, idp_session_id, revoked_at, revoked_reason
    from public.sso_sessions where org_id = ${s.orgId} and id = ${session.id}`;
  return row;
}

function postLogoutToken(
  url: string,
  body: Record<string, string>,
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(body),
  });
}

async function failureReasons(s: Setup): Promise<string[]> {
  const rows = await s.sql`
    select after ->> 'reason' as reason from public.audit_log
    where org_id = ${s.orgId} and action = 'sso.sign_in_failed'
    order by seq`;
  return rows.map((r) => r.reason);
}

Deno.test("RP-initiated OIDC logout: the session is revoked, the provider's end-session URL is answered, and ending the provider's session revokes the app's other sessions of it", async () => {
  const s = await setUp("oidc-rp-logout");
  try {
    const alice = `alice@${s.domain}`;
    // Two sign-ins in one browser share one session at the provider; a
    // third, in another browser, is another session there.
    const browser = s.op.newBrowser();
    const first = await s.signIn(alice, browser);
    const second = await s.signIn(alice, browser);
    const elsewhere = await s.signIn(alice, s.op.newBrowser());

    // Sign-in recorded who the provider says signed in, and its session.
    const [r1, r2, r3] = await Promise.all(
      [first, second, elsewhere].map((x) => sessionRow(s, x)),
    );
    assert.equal(r1.idp_subject, alice);
    assert.ok(r1.idp_session_id, "the ID token's sid is recorded");
    assert.equal(r2.idp_session_id, r1.idp_session_id, "one provider session");
    assert.notEqual(r3.idp_session_id, r1.idp_session_id);

    const logout = (session: Session, body: unknown) =>
      fetch(`${stack().apiUrl}/functions/v1/sso/logout`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${session.accessToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });

    // A redirect the connection does not allow is refused before anything
    // is revoked.
    const evil = await logout(first, { redirect_to: "https://evil.example/" });
    assert.equal(evil.status, 400);
    await evil.body?.cancel();
    assert.equal(await reads(s, first), true, "a refused logout revokes none");

    const res = await logout(first, { redirect_to: APP });
    assert.equal(res.status, 200);
    const json = await res.json();
    assert.equal(json.revoked, first.id);
    const logoutUrl = new URL(json.logout_url);
    assert.equal(
      `${logoutUrl.origin}${logoutUrl.pathname}`,
      s.op.endSessionEndpoint,
      "the provider's end_session_endpoint",
    );
    assert.equal(logoutUrl.searchParams.get("client_id"), s.op.clientId);
    assert.equal(logoutUrl.searchParams.get("post_logout_redirect_uri"), APP);
    await assertRevoked(s, first, "the signed-out session");
    assert.equal((await sessionRow(s, first)).revoked_reason, "signed out");
    // Signing out one session leaves the others until the provider says so.
    assert.equal(await reads(s, second), true);

    // The browser follows logout_url and the user confirms at the provider,
    // which ends its session, back-channels the logout to Meridian before it
    // answers, and sends the browser back to the app.
    const ended = await s.op.endSession(browser, json.logout_url);
    assert.ok(ended.location.startsWith(APP), ended.location);
    assert.equal(ended.deliveries.length, 1);
    const [delivery] = ended.deliveries;
    assert.equal(delivery.url, s.backchannelUrl);
    assert.equal(delivery.status, 200, delivery.body);
    assert.equal(delivery.headers.get("cache-control"), "no-store");
    assert.deepEqual(JSON.parse(delivery.body), { revoked: 1 });
    assert.equal(delivery.claims.sub, alice);
    assert.equal(delivery.claims.sid, r1.idp_session_id);
    assert.ok(BACKCHANNEL_EVENT in (delivery.claims.events as object));

    await assertRevoked(s, second, "the provider session's other app session");
    assert.equal(
      (await sessionRow(s, second)).revoked_reason,
      "IdP back-channel logout",
    );
    // The token names one provider session (sid): the user's session from
    // the other browser is another provider session, and stays.
    assert.equal(await reads(s, elsewhere), true);
    assert.equal((await sessionRow(s, elsewhere)).revoked_at, null);

    const [audit] = await s.sql`
      select after from public.audit_log
      where org_id = ${s.orgId} and action = 'session.revoked'
        and after ->> 'reason' = 'IdP back-channel logout'`;
    assert.equal(audit.after.sessions, 1, "the revocation is audited");
    assert.equal(audit.after.connection_id, s.connectionId);

    // Without redirect_to, the end-session URL has no post-logout redirect.
    const plain = await logout(elsewhere, {});
    assert.equal(plain.status, 200);
    const plainUrl = new URL((await plain.json()).logout_url);
    assert.equal(plainUrl.searchParams.get("client_id"), s.op.clientId);
    assert.equal(plainUrl.searchParams.has("post_logout_redirect_uri"), false);
    await assertRevoked(
      s,
      elsewhere,
      "the session signed out without redirect",
    );
  } finally {
    await s.close();
  }
});

Deno.test("RP-initiated OIDC logout with a provider that has no end_session_endpoint: the session is revoked and logout_url is null", async () => {
  const s = await setUp("oidc-no-end-session", { rpInitiatedLogout: false });
  try {
    const session = await s.signIn(`alice@${s.domain}`);
    const res = await fetch(`${stack().apiUrl}/functions/v1/sso/logout`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${session.accessToken}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ redirect_to: APP }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      revoked: session.id,
      logout_url: null,
    });
    await assertRevoked(s, session, "the signed-out session");
  } finally {
    await s.close();
  }
});

Deno.test("Back-channel logout from the provider alone: a logout token naming a user (sub only) revokes all of that user's sessions and no one else's", async () => {
  // No sid: the provider's logout tokens name the user alone, and so mean
  // every session of that user at the app (Back-Channel Logout 1.0, 2.4).
  const s = await setUp("oidc-bc-logout", { sessionRequired: false });
  try {
    const alice = `alice@${s.domain}`;
    const bob = `bob@${s.domain}`;
    const aliceBrowser = s.op.newBrowser();
    const aliceHere = await s.signIn(alice, aliceBrowser);
    const aliceThere = await s.signIn(alice, s.op.newBrowser());
    const bobs = await s.signIn(bob, s.op.newBrowser());
    assert.equal((await sessionRow(s, aliceHere)).idp_session_id, null);
    for (const session of [aliceHere, aliceThere, bobs]) {
      assert.equal(await reads(s, session), true);
    }

    // Alice signs out at the provider itself (no RP involved).
    const ended = await s.op.endSession(aliceBrowser);
    assert.equal(ended.deliveries.length, 1);
    const [delivery] = ended.deliveries;
    assert.equal(delivery.status, 200, delivery.body);
    assert.deepEqual(JSON.parse(delivery.body), { revoked: 2 });
    assert.equal(delivery.claims.sub, alice);
    assert.equal(delivery.claims.sid, undefined);

    await assertRevoked(s, aliceHere, "alice's session in this browser");
    await assertRevoked(s, aliceThere, "alice's session in another browser");
    assert.equal(await reads(s, bobs), true, "bob's session is not alice's");
    assert.equal((await sessionRow(s, bobs)).revoked_at, null);

    const [audit] = await s.sql`
      select after from public.audit_log
      where org_id = ${s.orgId} and action = 'session.revoked'
        and after ->> 'reason' = 'IdP back-channel logout'`;
    assert.equal(audit.after.sessions, 2);
  } finally {
    await s.close();
  }
});

Deno.test("Back-channel logout refusals: missing, malformed, foreign, rule-breaking and replayed logout tokens, and unknown connections", async () => {
  const s = await setUp("oidc-bc-refusals");
  try {
    const alice = `alice@${s.domain}`;
    const bob = `bob@${s.domain}`;
    const aliceBrowser = s.op.newBrowser();
    const alices = await s.signIn(alice, aliceBrowser);
    const bobs = await s.signIn(bob, s.op.newBrowser());
    const bobSid = (await sessionRow(s, bobs)).idp_session_id;

    const expectStatus = async (
      res: Response,
      status: number,
      why: string,
    ) => {
      const text = await res.text();
      assert.equal(res.status, status, `${why}: ${text}`);
      return text;
    };

    // Unknown connections: a 404, whatever the body.
    await expectStatus(
      await postLogoutToken(
        s.backchannelUrl.replace(s.connectionId, crypto.randomUUID()),
        { logout_token: "x" },
      ),
      404,
      "an unknown connection",
    );
    await expectStatus(
      await postLogoutToken(
        s.backchannelUrl.replace(s.connectionId, "not-a-uuid"),
        { logout_token: "x" },
      ),
      404,
      "a connection id that is no uuid",
    );

    // No logout_token at all.
    await expectStatus(
      await postLogoutToken(s.backchannelUrl, {}),
      400,
      "no logout_token",
    );
    await expectStatus(
      await postLogoutToken(s.backchannelUrl, { logout_token: "" }),
      400,
      "an empty logout_token",
    );

    // The claims of a genuine logout token for alice, less what each case
    // breaks or changes.
    const now = Math.floor(Date.now() / 1000);
    const genuine = () => ({
      iss: s.op.issuer,
      aud: s.op.clientId,
      iat: now,
      exp: now + 120,
      jti: crypto.randomUUID(),
      sub: alice,
      events: { [BACKCHANNEL_EVENT]: {} },
    });
    const without = (claim: string) => {
      const claims: Record<string, unknown> = genuine();
      delete claims[claim];
      return claims;
    };
    const { privateKey: foreignKey } = await generateKeyPair("RS256");
    const { kid } = decodeProtectedHeader(await s.op.sign({}));
    const signedBy = (
      key: Parameters<SignJWT["sign"]>[0],
      header: JWTHeaderParameters,
    ) => new SignJWT(genuine()).setProtectedHeader(header).sign(key);
    // Each refusal, and what its audited reason must name: the rule that
    // refused it, not merely some failure.
    const refusals: [string, string, RegExp][] = [
      ["garbage", "not-a-jwt", /JWS/],
      ["unsigned (alg none)", new UnsecuredJWT(genuine()).encode(), /alg/],
      [
        "signed by another key",
        await signedBy(foreignKey, { alg: "RS256", kid: "foreign" }),
        /no applicable key/,
      ],
      [
        "signed by another key under the provider's kid",
        await signedBy(foreignKey, { alg: "RS256", kid }),
        /signature verification failed/,
      ],
      [
        "HMAC with the client secret",
        await signedBy(new TextEncoder().encode(s.op.clientSecret), {
          alg: "HS256",
          kid,
        }),
        /alg/,
      ],
      // Signed with the provider's own key, so each refusal is for its rule.
      [
        "another issuer",
        await s.op.sign({ ...genuine(), iss: "http://x" }),
        /"iss"/,
      ],
      [
        "another audience",
        await s.op.sign({ ...genuine(), aud: "someone" }),
        /"aud"/,
      ],
      [
        "issued long ago",
        await s.op.sign({ ...genuine(), iat: now - 3600 }),
        /"iat"/,
      ],
      [
        "issued in the future",
        await s.op.sign({ ...genuine(), iat: now + 3600, exp: now + 3720 }),
        /"iat"/,
      ],
      [
        "expired",
        await s.op.sign({ ...genuine(), iat: now - 200, exp: now - 100 }),
        /"exp"/,
      ],
      ["no iat", await s.op.sign(without("iat")), /"iat"/],
      ["no event", await s.op.sign(without("events")), /event/],
      [
        "a nonce (an ID token)",
        await s.op.sign({ ...genuine(), nonce: "n" }),
        /nonce/,
      ],
      ["no jti", await s.op.sign(without("jti")), /jti/],
      ["no sub nor sid", await s.op.sign(without("sub")), /sub or sid/],
    ];
    for (const [why, token] of refusals) {
      await expectStatus(
        await postLogoutToken(s.backchannelUrl, { logout_token: token }),
        400,
        why,
      );
    }
    assert.equal(await reads(s, alices), true, "no refusal revoked a session");
    const reasons = await failureReasons(s);
    assert.equal(reasons.length, refusals.length, "every refusal is audited");
    refusals.forEach(([why, , rule], i) => {
      assert.match(reasons[i], /^The logout token was refused: /, why);
      assert.match(reasons[i], rule, why);
    });

    // A token naming a provider session alone (sid, no sub) revokes that one.
    const bySid = await postLogoutToken(s.backchannelUrl, {
      logout_token: await s.op.sign({ ...without("sub"), sid: bobSid }),
    });
    assert.deepEqual(
      JSON.parse(await expectStatus(bySid, 200, "sid alone")),
      { revoked: 1 },
    );
    await assertRevoked(s, bobs, "bob's provider session");
    assert.equal(await reads(s, alices), true, "alice's session is another");

    // The provider's own logout token is accepted once; the same token again
    // is a replay, refused and audited.
    const ended = await s.op.endSession(aliceBrowser);
    assert.equal(ended.deliveries.length, 1);
    assert.equal(ended.deliveries[0].status, 200, ended.deliveries[0].body);
    await assertRevoked(s, alices, "alice's session");
    await expectStatus(
      await postLogoutToken(s.backchannelUrl, {
        logout_token: ended.deliveries[0].logoutToken,
      }),
      400,
      "a replayed logout token",
    );
    assert.match((await failureReasons(s)).at(-1)!, /used already/);
  } finally {
    await s.close();
  }
});
