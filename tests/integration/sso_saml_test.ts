// SAML sign-in end to end against a real signing IdP on loopback (issue 28):
// an owner configures the connection through supabase-js, a user signs in
// SP-initiated (AuthnRequest over HTTP-Redirect, the IdP's auto-post form to
// the ACS) and IdP-initiated, the app reads the organization's data with the
// issued token; the attack set (forgeries, XML signature wrapping, wrong
// audience, Recipient and Destination, expiry, replay, another
// organization's assertion) is refused and audited; single logout works both
// ways.
import assert from "node:assert/strict";
import { createVerify, X509Certificate } from "node:crypto";
import { adminSql, client, createUser } from "../support/stack.ts";
import {
  ATTACKER_NAME_ID,
  ATTACKS,
  parseAutoPostForm,
  type SamlIdp,
  startSamlIdp,
} from "../support/saml_idp.ts";
import {
  APP,
  authorizeUrl,
  exchangeCode,
  pkce,
  refreshSession,
  sessionClient,
  ssoUrl,
} from "../support/sso_app.ts";

const MULTIFACTOR = "http://schemas.microsoft.com/claims/multipleauthn";

type Org = { id: string; ownerToken: string };

async function orgWithSamlConnection(
  sql: ReturnType<typeof adminSql>,
  idp: SamlIdp,
  settings: Record<string, unknown> = {},
) {
  const suffix = crypto.randomUUID().slice(0, 8);
  const owner = await createUser(sql, "saml-owner");
  const { data: org, error } = await client(owner.token).rpc(
    "create_organization",
    { p_name: "SAML", p_slug: `saml-${suffix}` },
  );
  assert.equal(error, null);
  // Made with placeholders, then set from the IdP's metadata URL, as an
  // administrator would: through supabase-js, the RPC and the sso function.
  const created = await client(owner.token).rpc("create_sso_connection", {
    p_org_id: org!.id,
    p_protocol: "saml",
    p_name: "Local IdP",
    p_saml_idp_entity_id: "urn:placeholder",
    p_saml_idp_sso_url: "https://placeholder.example/sso",
    p_saml_idp_certificates: [idp.foreignCertPem],
    p_allowed_email_domains: ["saml.example"],
    p_jit_provisioning: true,
    p_group_role_map: { admins: "admin" },
    p_idp_mfa_counts: true,
    p_allowed_redirect_urls: [APP],
    ...settings,
  });
  assert.equal(created.error, null, JSON.stringify(created.error));
  const id = created.data!.id;
  const imported = await client(owner.token).functions.invoke(
    `sso/connections/${id}/saml-metadata`,
    {
      method: "PUT",
      body: { org_id: org!.id, metadata_url: `${idp.url}/metadata` },
    },
  );
  assert.equal(imported.error, null, JSON.stringify(imported.error));
  assert.deepEqual(imported.data, {
    id,
    saml_idp_entity_id: idp.entityId,
    saml_idp_sso_url: `${idp.url}/sso`,
    saml_idp_slo_url: `${idp.url}/slo`,
    certificates: 1,
  });
  return {
    org: { id: org!.id, ownerToken: owner.token } as Org,
    connectionId: id,
    acs: ssoUrl(`/saml/acs/${id}`),
    entityId: ssoUrl(`/saml/metadata/${id}`),
    slo: ssoUrl(`/saml/slo/${id}`),
  };
}

/** The browser's way: /authorize, the IdP's page, its form posted to the ACS. */
async function spInitiated(idp: SamlIdp, connectionId: string) {
  const { verifier, challenge } = await pkce();
  const toIdp = await fetch(authorizeUrl(connectionId, challenge), {
    redirect: "manual",
  });
  assert.equal(toIdp.status, 302, await toIdp.clone().text());
  const location = toIdp.headers.get("location")!;
  assert.ok(location.startsWith(`${idp.url}/sso?`), location);
  const page = await fetch(location);
  assert.equal(page.status, 200);
  const form = parseAutoPostForm(await page.text());
  const back = await postToAcs(form.action, form.SAMLResponse!);
  return {
    back,
    verifier,
    samlResponse: form.SAMLResponse!,
    form,
    toIdp: location,
  };
}

function postToAcs(acs: string, samlResponse: string, relayState?: string) {
  return fetch(acs, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      SAMLResponse: samlResponse,
      ...(relayState ? { RelayState: relayState } : {}),
    }),
    redirect: "manual",
  });
}

async function tokensFrom(back: Response, verifier: string) {
  assert.equal(back.status, 303, await back.clone().text());
  const returned = new URL(back.headers.get("location")!);
  assert.equal(`${returned.origin}${returned.pathname}`, APP);
  const exchanged = await exchangeCode(
    returned.searchParams.get("code")!,
    verifier,
  );
  assert.equal(exchanged.status, 200);
  return await exchanged.json();
}

/**
 * Checks an HTTP-Redirect binding signature as an IdP does: RSA-SHA256 over
 * the query's SAMLRequest/SAMLResponse, RelayState and SigAlg, exactly as
 * sent, with the certificate from the SP's metadata.
 */
function redirectSignatureValid(url: string, metadataXml: string): boolean {
  const cert = metadataXml.match(
    /<(?:ds:)?X509Certificate>([^<]+)</,
  )?.[1];
  assert.ok(cert, "the metadata publishes the SP's signing certificate");
  const query = new URL(url).search.slice(1).split("&");
  const part = (name: string) => query.find((p) => p.startsWith(`${name}=`));
  const signed = ["SAMLRequest", "SAMLResponse", "RelayState", "SigAlg"]
    .map(part).filter(Boolean).join("&");
  const signature = part("Signature");
  assert.ok(signature, "the message is signed");
  const pem = `-----BEGIN CERTIFICATE-----\n${
    cert.replace(/\s+/g, "")
  }\n-----END CERTIFICATE-----\n`;
  return createVerify("RSA-SHA256").update(signed).verify(
    new X509Certificate(pem).publicKey,
    decodeURIComponent(signature.slice("Signature=".length)),
    "base64",
  );
}

const claims = (jwt: string) =>
  JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));

Deno.test("SAML sign-in through a real signing IdP: metadata, SP- and IdP-initiated, RLS, refresh, MFA", async () => {
  const sql = adminSql();
  const idp = await startSamlIdp();
  try {
    const { org, connectionId, acs, entityId } = await orgWithSamlConnection(
      sql,
      idp,
    );

    // The SP's metadata names the per-connection entity id and ACS.
    const metadata = await fetch(ssoUrl(`/saml/metadata/${connectionId}`));
    assert.equal(metadata.status, 200);
    const xml = await metadata.text();
    assert.match(xml, new RegExp(`entityID="${entityId}"`));
    assert.ok(xml.includes(`Location="${acs}"`), xml);

    // A newcomer in the admins group is provisioned as an admin.
    const email = `ada-${crypto.randomUUID().slice(0, 6)}@saml.example`;
    idp.nextUser = { nameId: email, email, groups: ["admins"] };
    const first = await spInitiated(idp, connectionId);
    assert.equal(idp.requests.at(-1)!.issuer, entityId);
    assert.ok(
      redirectSignatureValid(first.toIdp, xml),
      "the AuthnRequest is signed with the key the metadata publishes",
    );
    const tokens = await tokensFrom(first.back, first.verifier);
    const access = claims(tokens.access_token);
    assert.equal(access.email, email);
    assert.equal(access.aal, "aal1");
    assert.equal(access.amr[0].method, "sso/saml");
    const [member] = await sql`
      select m.role from public.organization_members m join auth.users u on u.id = m.user_id
      where m.org_id = ${org.id} and u.email = ${email}`;
    assert.equal(member.role, "admin");
    const orgs = await sessionClient(tokens.access_token).from("organizations")
      .select("id").eq("id", org.id);
    assert.deepEqual(orgs.data, [{ id: org.id }], "RLS reads with the token");
    const refreshed = await refreshSession(tokens.refresh_token);
    assert.equal(refreshed.status, 200);
    await refreshed.body?.cancel();

    // The session knows the IdP's subject and session, for single logout.
    const [session] = await sql`
      select idp_subject, idp_subject_format, idp_session_id from public.sso_sessions
      where id = ${access.session_id}::uuid`;
    assert.equal(session.idp_subject, email);
    assert.ok(session.idp_session_id);

    // The same response again: its request was taken, and the assertion used.
    const replay = await postToAcs(acs, first.samlResponse);
    assert.equal(replay.status, 401);
    assert.match((await replay.json()).error.message, /InResponseTo|replay/);

    // An MFA the IdP asserts (AuthnContextClassRef) counts as aal2.
    idp.nextUser = { nameId: email, email, authnContextClassRef: MULTIFACTOR };
    const mfa = await spInitiated(idp, connectionId);
    assert.equal(
      claims((await tokensFrom(mfa.back, mfa.verifier)).access_token).aal,
      "aal2",
    );

    // IdP-initiated: refused until the connection allows it, then tokens
    // come back in the fragment, as Supabase Auth's IdP-initiated SAML.
    const unsolicited = () =>
      idp.response({ acsUrl: acs, audience: entityId, nameId: email, email });
    const refused = await postToAcs(acs, unsolicited());
    assert.equal(refused.status, 401);
    assert.match((await refused.json()).error.message, /IdP-initiated/);
    const allowed = await client(org.ownerToken).rpc("update_sso_connection", {
      p_org_id: org.id,
      p_connection_id: connectionId,
      p_allow_idp_initiated: true,
    });
    assert.equal(allowed.error, null);
    const idpInitiated = await postToAcs(acs, unsolicited(), APP);
    assert.equal(idpInitiated.status, 303, await idpInitiated.clone().text());
    const landed = new URL(idpInitiated.headers.get("location")!);
    assert.equal(`${landed.origin}${landed.pathname}`, APP);
    const fragment = new URLSearchParams(landed.hash.slice(1));
    assert.ok(fragment.get("refresh_token"));
    const viaFragment = await sessionClient(fragment.get("access_token")!)
      .from("organizations").select("id").eq("id", org.id);
    assert.deepEqual(viaFragment.data, [{ id: org.id }]);

    const [signedIn] = await sql`
      select count(*)::int as n from public.audit_log
      where org_id = ${org.id} and action = 'sso.signed_in'`;
    assert.equal(signedIn.n, 3, "every sign-in is audited");
  } finally {
    await idp.close();
    await sql.end();
  }
});

Deno.test("IdP metadata: pasted or fetched, refused with the field named when it is not usable", async () => {
  const sql = adminSql();
  const idp = await startSamlIdp();
  try {
    const { org, connectionId } = await orgWithSamlConnection(sql, idp);
    const put = (body: Record<string, unknown>) =>
      fetch(ssoUrl(`/connections/${connectionId}/saml-metadata`), {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${org.ownerToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ org_id: org.id, ...body }),
      });
    const pasted = await put({ metadata_xml: idp.metadata });
    assert.equal(pasted.status, 200);
    assert.equal((await pasted.json()).saml_idp_entity_id, idp.entityId);
    const refusals: [Record<string, unknown>, number, string, RegExp][] = [
      [{ metadata_xml: "<not xml" }, 400, "metadata_xml", /well-formed/],
      [
        { metadata_xml: '<EntityDescriptor entityID="x"/>' },
        400,
        "metadata_xml",
        /IDPSSODescriptor/,
      ],
      [
        { metadata_xml: `<!DOCTYPE x []>${idp.metadata}` },
        400,
        "metadata_xml",
        /DOCTYPE/,
      ],
      [{}, 400, "metadata_xml", /exactly one/],
      [
        { metadata_url: "http://10.0.0.1/metadata" },
        400,
        "metadata_url",
        /http|private|https/i,
      ],
    ];
    for (const [body, status, field, message] of refusals) {
      const res = await put(body);
      const json = await res.json();
      assert.equal(res.status, status, JSON.stringify(json));
      assert.equal(json.error.details[0].field, field, JSON.stringify(json));
      assert.match(JSON.stringify(json.error), message);
    }
    const [c] = await sql`select saml_idp_entity_id from public.sso_connections
                          where id = ${connectionId}::uuid`;
    assert.equal(c.saml_idp_entity_id, idp.entityId, "refusals change nothing");
  } finally {
    await idp.close();
    await sql.end();
  }
});

Deno.test("the SAML attack set is refused, each with a clear audited reason", async () => {
  const sql = adminSql();
  const idp = await startSamlIdp();
  const otherIdp = await startSamlIdp();
  try {
    const a = await orgWithSamlConnection(sql, idp, {
      p_allow_idp_initiated: true,
    });
    const b = await orgWithSamlConnection(sql, otherIdp, {
      p_allow_idp_initiated: true,
    });
    const good = { acsUrl: a.acs, audience: a.entityId };
    const email = `eve-${crypto.randomUUID().slice(0, 6)}@saml.example`;
    const hour = 60 * 60_000;
    const cases: Record<string, [string, RegExp]> = {};
    for (const attack of ATTACKS) {
      cases[attack] = [
        idp.response({ ...good, nameId: email, email, attack }),
        attack === "doctype"
          ? /DOCTYPE/
          : attack === "comment_injection"
          ? /comment/
          : /signature/i,
      ];
    }
    Object.assign(cases, {
      wrong_audience: [
        idp.response({ ...good, audience: b.entityId, nameId: email }),
        /audience/i,
      ],
      wrong_recipient: [
        idp.response({ ...good, recipient: b.acs, nameId: email }),
        /Recipient/,
      ],
      wrong_destination: [
        idp.response({ ...good, destination: b.acs, nameId: email }),
        /Destination/,
      ],
      expired: [
        idp.response({
          ...good,
          nameId: email,
          notBefore: new Date(Date.now() - 2 * hour),
          notOnOrAfter: new Date(Date.now() - hour),
        }),
        /expired/,
      ],
      wrong_issuer: [
        idp.response({ ...good, nameId: email, issuer: "https://evil.test" }),
        /Issuer/,
      ],
      unknown_in_response_to: [
        idp.response({ ...good, nameId: email, inResponseTo: "_never-asked" }),
        /InResponseTo/,
      ],
      // Organization B's genuine assertion, made for B's connection.
      other_organization: [
        otherIdp.response({
          acsUrl: b.acs,
          audience: b.entityId,
          nameId: email,
        }),
        /signature|Destination|audience/i,
      ],
      // B's IdP aiming at A's ACS: A does not trust B's certificate.
      other_organization_idp: [
        otherIdp.response({ ...good, nameId: email }),
        /signature/i,
      ],
      oversized: ["A".repeat(257 * 1024), /256 KB/],
    });
    for (const [name, [samlResponse, reason]] of Object.entries(cases)) {
      const res = await postToAcs(a.acs, samlResponse);
      const text = await res.text();
      assert.ok(text.startsWith("{"), `${name}: ${res.status} ${text}`);
      const body = JSON.parse(text);
      assert.equal(res.status, 401, `${name}: ${JSON.stringify(body)}`);
      assert.match(body.error.message, reason, name);
    }
    const audited = await sql`
      select after ->> 'reason' as reason from public.audit_log
      where org_id = ${a.org.id} and action = 'sso.sign_in_failed'`;
    assert.equal(
      audited.length,
      Object.keys(cases).length,
      "each refusal is audited",
    );
    assert.equal(
      (await sql`select count(*)::int as n from auth.users where email in (${email}, ${ATTACKER_NAME_ID})`)[
        0
      ]
        .n,
      0,
      "nobody was provisioned",
    );

    // A genuine assertion works once; posted again it is a replay.
    const genuine = idp.response({ ...good, nameId: email, email });
    const once = await postToAcs(a.acs, genuine, APP);
    assert.equal(once.status, 303, await once.clone().text());
    const twice = await postToAcs(a.acs, genuine, APP);
    assert.equal(twice.status, 401);
    assert.match((await twice.json()).error.message, /replay/);
  } finally {
    await idp.close();
    await otherIdp.close();
    await sql.end();
  }
});

Deno.test("SAML single logout: SP-initiated, IdP-initiated over Redirect and POST, replay and forgery refused", async () => {
  const sql = adminSql();
  const idp = await startSamlIdp();
  try {
    const { org, connectionId, slo } = await orgWithSamlConnection(sql, idp);
    const email = `sol-${crypto.randomUUID().slice(0, 6)}@saml.example`;
    const signIn = async (sessionIndex: string) => {
      idp.nextUser = { nameId: email, email, sessionIndex };
      const s = await spInitiated(idp, connectionId);
      return await tokensFrom(s.back, s.verifier);
    };
    const reads = async (accessToken: string) =>
      (await sessionClient(accessToken).from("organizations").select("id")
        .eq("id", org.id)).data!.length;

    // SP-initiated: Meridian's session ends, and the app is told where to
    // send the browser so the IdP's ends too.
    const one = await signIn("idx-1");
    const out = await fetch(ssoUrl("/logout"), {
      method: "POST",
      headers: { Authorization: `Bearer ${one.access_token}` },
    });
    assert.equal(out.status, 200);
    const { logout_url } = await out.json();
    assert.ok(logout_url.startsWith(`${idp.url}/slo?SAMLRequest=`), logout_url);
    const metadataXml =
      await (await fetch(ssoUrl(`/saml/metadata/${connectionId}`)))
        .text();
    assert.ok(redirectSignatureValid(logout_url, metadataXml));
    assert.equal((await fetch(logout_url)).status, 200);
    const sent = idp.logoutMessages.at(-1)!;
    assert.equal(sent.type, "LogoutRequest");
    assert.match(sent.xml, new RegExp(`>${email}<`));
    assert.match(sent.xml, /idx-1/);
    assert.equal(await reads(one.access_token), 0);

    // IdP-initiated over HTTP-Redirect: the session it names is revoked and
    // the browser goes back to the IdP with a LogoutResponse.
    const two = await signIn("idx-2");
    const three = await signIn("idx-3");
    const redirect = idp.logoutRequest({
      destination: slo,
      nameId: email,
      sessionIndex: "idx-2",
      binding: "redirect",
    });
    const answered = await fetch(redirect.url, { redirect: "manual" });
    assert.equal(answered.status, 303, await answered.clone().text());
    const logoutResponse = answered.headers.get("location")!;
    assert.ok(logoutResponse.startsWith(`${idp.url}/slo?SAMLResponse=`));
    assert.ok(
      redirectSignatureValid(logoutResponse, metadataXml),
      "the LogoutResponse is signed",
    );
    await answered.body?.cancel();
    assert.equal(await reads(two.access_token), 0);
    assert.equal(await reads(three.access_token), 1, "only idx-2 ended");
    assert.equal((await refreshSession(two.refresh_token)).status, 400);

    // The same LogoutRequest again is a replay.
    const again = await fetch(redirect.url, { redirect: "manual" });
    assert.equal(again.status, 400);
    assert.match((await again.json()).error.message, /replay/);

    // Unsigned, or signed by another key: refused, nothing revoked.
    const unsigned = new URL(
      idp.logoutRequest({
        destination: slo,
        nameId: email,
        binding: "redirect",
      }).url,
    );
    unsigned.searchParams.delete("Signature");
    unsigned.searchParams.delete("SigAlg");
    const unsignedRes = await fetch(unsigned, { redirect: "manual" });
    assert.equal(unsignedRes.status, 400);
    assert.match((await unsignedRes.json()).error.message, /not signed/);
    const forged = idp.logoutRequest({
      destination: slo,
      nameId: email,
      binding: "post",
      key: "foreign",
    });
    const forgedRes = await fetch(slo, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: forged.params,
      redirect: "manual",
    });
    assert.equal(forgedRes.status, 400);
    await forgedRes.body?.cancel();
    const misdirected = idp.logoutRequest({
      destination: `${slo}x`,
      nameId: email,
      binding: "post",
    });
    const misdirectedRes = await fetch(slo, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: misdirected.params,
      redirect: "manual",
    });
    assert.equal(misdirectedRes.status, 400);
    assert.match((await misdirectedRes.json()).error.message, /Destination/);
    assert.equal(await reads(three.access_token), 1);

    // IdP-initiated over HTTP-POST without a SessionIndex: every session
    // of that subject through this connection ends.
    const post = idp.logoutRequest({
      destination: slo,
      nameId: email,
      binding: "post",
    });
    const posted = await fetch(slo, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: post.params,
      redirect: "manual",
    });
    assert.equal(posted.status, 303, await posted.clone().text());
    await posted.body?.cancel();
    assert.equal(await reads(three.access_token), 0);

    const [revoked] = await sql`
      select count(*)::int as n from public.audit_log
      where org_id = ${org.id} and action = 'session.revoked'`;
    assert.ok(revoked.n >= 3, "revocations are audited");
  } finally {
    await idp.close();
    await sql.end();
  }
});
