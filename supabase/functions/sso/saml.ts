// The SAML 2.0 leg of a sign-in and of single logout, with node-saml, plus
// the checks node-saml leaves to its caller (it reads none of these): the
// Response's Destination and the bearer SubjectConfirmationData's Recipient
// must be this connection's ACS, its NotOnOrAfter must not have passed, the
// assertion's issuer must be the connection's IdP, a DOCTYPE or an XML comment
// is refused, and so are unsigned Redirect-binding logout messages and logout
// messages for another Destination. InResponseTo and assertion replay are checked in SQL
// by the caller (private.sso_take_signin, private.sso_first_use), so they
// hold across every instance of the function.
//
// One SP per connection: its entity id is the connection's metadata URL, so
// an assertion made for another connection (another organization's) fails
// the audience check even where the IdP is shared.
import { type Profile, SAML, ValidateInResponseTo } from "@node-saml/node-saml";
import { DOMParser } from "@xmldom/xmldom";
import { Buffer } from "node:buffer";
import { inflateRawSync } from "node:zlib";

/** node-saml's allowed clock skew, and ours for SubjectConfirmationData. */
export const SKEW_MS = 3 * 60_000;
/** A SAMLResponse larger than this (base64) is refused before parsing. */
export const MAX_RESPONSE_BYTES = 256 * 1024;

export type SamlConnection = {
  org_id: string;
  id: string;
  saml_idp_entity_id: string;
  saml_idp_sso_url: string;
  saml_idp_slo_url: string | null;
  saml_idp_certificates: string[];
};

/** A response or logout message that did not pass: the reason is audited. */
export class SamlRefused extends Error {}

export function spUrls(connectionId: string) {
  const base = `${Deno.env.get("SUPABASE_URL") ?? ""}/functions/v1/sso/saml`;
  return {
    entityId: `${base}/metadata/${connectionId}`,
    acs: `${base}/acs/${connectionId}`,
    slo: `${base}/slo/${connectionId}`,
  };
}

/**
 * The SP's signing key and certificate (RSA, PEM): with them AuthnRequests
 * and logout messages are signed (HTTP-Redirect query signatures, RSA-SHA256)
 * and the certificate is published in the metadata. Without them, requests
 * go unsigned, which IdPs that require signed requests refuse.
 */
function spSigning() {
  const key = Deno.env.get("MERIDIAN_SSO_SAML_SP_KEY");
  const cert = Deno.env.get("MERIDIAN_SSO_SAML_SP_CERT");
  return key && cert ? { key, cert } : null;
}

function serviceProvider(c: SamlConnection, requestId?: string): SAML {
  const sp = spUrls(c.id);
  const signing = spSigning();
  return new SAML({
    ...(signing ? { privateKey: signing.key, publicCert: signing.cert } : {}),
    callbackUrl: sp.acs,
    entryPoint: c.saml_idp_sso_url,
    issuer: sp.entityId,
    audience: sp.entityId,
    idpCert: c.saml_idp_certificates,
    idpIssuer: c.saml_idp_entity_id,
    // Many IdPs sign the assertion only; the assertion is what is trusted.
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: SKEW_MS,
    // InResponseTo is matched in SQL against the stored request (single use,
    // shared by every instance), not in node-saml's per-process cache.
    validateInResponseTo: ValidateInResponseTo.never,
    signatureAlgorithm: "sha256",
    // Let the IdP choose the NameID format; it is kept as sent.
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    logoutUrl: c.saml_idp_slo_url ?? c.saml_idp_sso_url,
    logoutCallbackUrl: sp.slo,
    ...(requestId ? { generateUniqueId: () => requestId } : {}),
  });
}

/** A new AuthnRequest ID: node-saml's form, "_" and 40 hex digits. */
export function newRequestId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return "_" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** The IdP's sign-in URL carrying an AuthnRequest with this ID. */
export function authnRequestUrl(
  c: SamlConnection,
  requestId: string,
): Promise<string> {
  return serviceProvider(c, requestId).getAuthorizeUrlAsync("", undefined, {});
}

export function metadata(c: SamlConnection): string {
  return serviceProvider(c).generateServiceProviderMetadata(
    null,
    spSigning()?.cert ?? null,
  );
}

// AuthnContextClassRefs that say the IdP used more than one factor.
const MFA_CONTEXTS = new Set([
  "http://schemas.microsoft.com/claims/multipleauthn",
  "https://refeds.org/profile/mfa",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
]);

const EMAIL_ATTRIBUTES = [
  "email",
  "mail",
  "emailAddress",
  "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
  "urn:oid:0.9.2342.19200300.100.1.3",
];
const GROUP_ATTRIBUTES = [
  "groups",
  "memberOf",
  "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
];

export type SamlIdentity = {
  nameId: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  issuer: string;
  assertionId: string;
  inResponseTo: string | null;
  expiresAt: Date;
  email: string | null;
  groups: string[];
  mfa: boolean;
};

const parseXml = (xml: string) =>
  new DOMParser({
    // A parse error is a refusal, never a partial document.
    errorHandler: {
      error: (message: string) => {
        throw new SamlRefused(`malformed XML: ${message}`);
      },
      fatalError: (message: string) => {
        throw new SamlRefused(`malformed XML: ${message}`);
      },
    },
  }).parseFromString(xml, "text/xml");

type El = ReturnType<typeof parseXml>["documentElement"];

function descendants(root: El, localName: string): El[] {
  return Array.from(root.getElementsByTagNameNS("*", localName)) as El[];
}

function hasComment(node: { childNodes: ArrayLike<unknown> | null }): boolean {
  // Text nodes have no childNodes in xmldom.
  for (const child of Array.from(node.childNodes ?? []) as El[]) {
    if (child.nodeType === 8 || hasComment(child)) return true;
  }
  return false;
}

function decodeBase64(value: string): string {
  // Buffer's decoder: atob plus a char-by-char copy cost 3.7 ms on a 66 KB
  // response (bench/saml.mjs); this, under 0.1 ms.
  const compact = value.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new SamlRefused("SAMLResponse is not base64");
  }
  return Buffer.from(compact, "base64").toString("utf8");
}

function inflated(value: string): string {
  try {
    return inflateRawSync(Buffer.from(value, "base64"), {
      maxOutputLength: MAX_RESPONSE_BYTES,
    }).toString("utf8");
  } catch {
    throw new SamlRefused("the logout message is not deflated base64");
  }
}

function firstString(value: unknown): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === "string" && v.trim() ? v.trim() : null;
}

/**
 * Validates a POSTed SAMLResponse for this connection: node-saml's checks
 * (signature over the one assertion, audience, conditions, skew) and ours.
 */
export async function validateResponse(
  c: SamlConnection,
  samlResponse: string,
): Promise<SamlIdentity> {
  if (samlResponse.length > MAX_RESPONSE_BYTES) {
    throw new SamlRefused("the SAMLResponse is larger than 256 KB");
  }
  const raw = decodeBase64(samlResponse);
  if (/<!DOCTYPE/i.test(raw)) {
    throw new SamlRefused("a SAMLResponse with a DOCTYPE is refused");
  }
  const sp = spUrls(c.id);
  let profile: Profile | null;
  try {
    ({ profile } = await serviceProvider(c).validatePostResponseAsync({
      SAMLResponse: samlResponse,
    }));
  } catch (err) {
    throw new SamlRefused((err as Error).message);
  }
  if (!profile) throw new SamlRefused("the response holds no assertion");

  const response = parseXml(raw).documentElement;
  if (response.localName !== "Response") {
    throw new SamlRefused("the message is not a SAML Response");
  }
  // Signatures are computed without comments (exclusive c14n), so a comment
  // can be slipped into a signed value (a NameID) without breaking them, for
  // readers that stop at the first text node. No IdP sends comments.
  if (hasComment(response)) {
    throw new SamlRefused("the response contains an XML comment");
  }
  if (response.getAttribute("Destination") !== sp.acs) {
    throw new SamlRefused("the Response's Destination is not this ACS");
  }
  // From here on, only the signed assertion node-saml verified is read.
  const assertionXml = profile.getAssertionXml?.();
  if (!assertionXml) throw new SamlRefused("the response holds no assertion");
  const assertion = parseXml(assertionXml).documentElement;
  const issuer = profile.issuer;
  if (issuer !== c.saml_idp_entity_id) {
    throw new SamlRefused(
      "the assertion's Issuer is not this connection's IdP",
    );
  }
  const bearer = descendants(assertion, "SubjectConfirmation").find((el) =>
    el.getAttribute("Method") === "urn:oasis:names:tc:SAML:2.0:cm:bearer"
  );
  const data = bearer && descendants(bearer, "SubjectConfirmationData")[0];
  if (!data) {
    throw new SamlRefused(
      "the assertion has no bearer SubjectConfirmationData",
    );
  }
  if (data.getAttribute("Recipient") !== sp.acs) {
    throw new SamlRefused(
      "the SubjectConfirmationData's Recipient is not this ACS",
    );
  }
  const notOnOrAfter = Date.parse(data.getAttribute("NotOnOrAfter") ?? "");
  if (!Number.isFinite(notOnOrAfter) || notOnOrAfter + SKEW_MS <= Date.now()) {
    throw new SamlRefused(
      "the SubjectConfirmationData has expired (NotOnOrAfter)",
    );
  }
  const dataInResponseTo = data.getAttribute("InResponseTo") || null;
  const responseInResponseTo = response.getAttribute("InResponseTo") || null;
  if (
    dataInResponseTo && responseInResponseTo &&
    dataInResponseTo !== responseInResponseTo
  ) {
    throw new SamlRefused(
      "the Response and its assertion answer different requests",
    );
  }
  const assertionId = assertion.getAttribute("ID");
  if (!assertionId) throw new SamlRefused("the assertion has no ID");
  if (!profile.nameID) throw new SamlRefused("the assertion has no NameID");
  const conditionsEnd = Date.parse(
    descendants(assertion, "Conditions")[0]?.getAttribute("NotOnOrAfter") ?? "",
  );
  const classRefs = descendants(assertion, "AuthnContextClassRef").map((el) =>
    (el.textContent ?? "").trim()
  );
  const attributes = (profile.attributes ?? {}) as Record<string, unknown>;
  const email = EMAIL_ATTRIBUTES.map((a) => firstString(attributes[a]))
    .find(Boolean) ??
    (/^[^@\s]+@[^@\s]+$/.test(profile.nameID) ? profile.nameID : null);
  const groups = GROUP_ATTRIBUTES.flatMap((a) => {
    const v = attributes[a];
    return (Array.isArray(v) ? v : v === undefined ? [] : [v])
      .filter((g): g is string => typeof g === "string");
  });
  return {
    nameId: profile.nameID,
    nameIdFormat: profile.nameIDFormat ?? null,
    sessionIndex: profile.sessionIndex ?? null,
    issuer,
    assertionId,
    inResponseTo: dataInResponseTo ?? responseInResponseTo,
    expiresAt: new Date(
      Math.max(
        notOnOrAfter,
        Number.isFinite(conditionsEnd) ? conditionsEnd : 0,
      ) +
        SKEW_MS,
    ),
    email,
    groups,
    mfa: classRefs.some((ref) => MFA_CONTEXTS.has(ref)),
  };
}

/** The IdP's single-logout URL with a LogoutRequest for this session. */
export function logoutRequestUrl(
  c: SamlConnection,
  session: {
    nameId: string;
    nameIdFormat: string | null;
    sessionIndex: string | null;
  },
): Promise<string> {
  return serviceProvider(c).getLogoutUrlAsync(
    {
      issuer: c.saml_idp_entity_id,
      nameID: session.nameId,
      nameIDFormat: session.nameIdFormat ?? undefined,
      sessionIndex: session.sessionIndex ?? undefined,
    } as Profile,
    "",
    {},
  );
}

export type IdpLogout =
  | {
    kind: "request";
    id: string;
    nameId: string;
    sessionIndex: string | null;
    profile: Profile;
  }
  | { kind: "response" };

/**
 * A logout message the IdP sent to /saml/slo: a LogoutRequest (it ends the
 * user's IdP session) or the LogoutResponse to ours. HTTP-Redirect binding
 * (signed query string) or HTTP-POST (signed XML); unsigned ones are refused.
 */
export async function validateLogoutMessage(
  c: SamlConnection,
  params: Record<string, string>,
  binding: "redirect" | "post",
  rawQuery: string,
): Promise<IdpLogout> {
  const message = params.SAMLRequest ?? params.SAMLResponse;
  if (!message) {
    throw new SamlRefused("no SAMLRequest or SAMLResponse");
  }
  if (message.length > MAX_RESPONSE_BYTES) {
    throw new SamlRefused("the logout message is larger than 256 KB");
  }
  // node-saml reads no Destination on logout messages either.
  const xml = binding === "redirect"
    ? inflated(message)
    : decodeBase64(message);
  if (/<!DOCTYPE/i.test(xml)) {
    throw new SamlRefused("a logout message with a DOCTYPE is refused");
  }
  const destination = parseXml(xml).documentElement.getAttribute(
    "Destination",
  );
  if (destination !== spUrls(c.id).slo) {
    throw new SamlRefused(
      "the logout message's Destination is not this SLO URL",
    );
  }
  let result;
  try {
    if (binding === "redirect") {
      // node-saml accepts a Redirect-binding message without a signature.
      if (!params.Signature || !params.SigAlg) {
        throw new SamlRefused("the logout message is not signed");
      }
      result = await serviceProvider(c).validateRedirectAsync(params, rawQuery);
    } else if (params.SAMLRequest) {
      result = await serviceProvider(c).validatePostRequestAsync(params);
    } else {
      result = await serviceProvider(c).validatePostResponseAsync(params);
    }
  } catch (err) {
    if (err instanceof SamlRefused) throw err;
    throw new SamlRefused((err as Error).message);
  }
  const profile = result.profile;
  if (!profile) return { kind: "response" };
  if (!profile.nameID || !profile.ID) {
    throw new SamlRefused("the LogoutRequest names no subject");
  }
  return {
    kind: "request",
    id: profile.ID as string,
    nameId: profile.nameID,
    sessionIndex: profile.sessionIndex ?? null,
    profile,
  };
}

/** Where to send the browser with our LogoutResponse to the IdP's request. */
export function logoutResponseUrl(
  c: SamlConnection,
  request: Profile,
  relayState: string,
): Promise<string> {
  return serviceProvider(c).getLogoutResponseUrlAsync(
    request,
    relayState,
    {},
    true,
  );
}
