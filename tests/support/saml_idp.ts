// A real SAML 2.0 Identity Provider for tests, on loopback. Meridian's SAML
// service provider is checked against messages made by code that is not its
// own: keys and certificates come from the `openssl` CLI at test time,
// signatures from the npm library `xml-crypto`, and XML is handled with
// `@xmldom/xmldom`. The IdP answers the browser's way (metadata, an
// AuthnRequest over HTTP-Redirect answered with an auto-post form, single
// logout over HTTP-Redirect and HTTP-POST), and builds on demand the
// responses an attacker would send: unsigned, signed by another key, altered
// after signing, and the known XML signature wrapping variants, each of which
// the service provider must refuse.
import { Buffer } from "node:buffer";
import { createSign, randomUUID } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { SignedXml } from "xml-crypto";
import { DOMParser, XMLSerializer } from "@xmldom/xmldom";

const NS = {
  protocol: "urn:oasis:names:tc:SAML:2.0:protocol",
  assertion: "urn:oasis:names:tc:SAML:2.0:assertion",
  metadata: "urn:oasis:names:tc:SAML:2.0:metadata",
  dsig: "http://www.w3.org/2000/09/xmldsig#",
};
const BINDING = {
  redirect: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
  post: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
};
const ALG = {
  excC14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
  enveloped: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
  rsaSha256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
};
export const NAME_ID_EMAIL =
  "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
export const PASSWORD_PROTECTED_TRANSPORT =
  "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";

/** The identity that the wrapping and tampering attacks try to sign in. */
export const ATTACKER_NAME_ID = "mallory@example.com";

/**
 * Responses the service provider must refuse. Those that smuggle in another
 * identity smuggle ATTACKER_NAME_ID; the others forge the whole response.
 */
export const ATTACKS = [
  /** No signature at all, on the response or the assertion. */
  "unsigned",
  /** Signed by an unrelated key, whose certificate is in KeyInfo. */
  "foreign_key",
  /** The signed assertion's NameID changed afterwards to the attacker's. */
  "nameid_changed",
  /**
   * NameID `mallory@example.com.evil.test` signed, then a comment put in it
   * after `mallory@example.com`: the signature still verifies (exclusive
   * c14n drops comments), a parser that reads the first text node reads
   * the attacker's identity.
   */
  "comment_injection",
  /** An unsigned copy with the attacker's NameID, before the signed assertion. */
  "xsw_unsigned_before",
  /**
   * An unsigned assertion with the attacker's NameID in the signed one's
   * place, holding the signed one inside its Subject.
   */
  "xsw_nested_in_evil",
  /**
   * The signed assertion moved into its Signature's ds:Object, and an
   * assertion with the same ID and the attacker's NameID, carrying that
   * Signature, in its place.
   */
  "xsw_signature_in_object",
  /**
   * With the response signed: an evil response (same ID, unsigned assertion
   * with the attacker's NameID) carrying the Signature, in whose ds:Object
   * the signed response sits.
   */
  "xsw_response_in_signature",
  /** A valid signed response with a DOCTYPE declaring an entity before it. */
  "doctype",
] as const;
export type AttackName = typeof ATTACKS[number];

export type ResponseOptions = {
  /** The service provider's AssertionConsumerService URL. */
  acsUrl: string;
  /** The service provider's entity id, for AudienceRestriction. */
  audience: string;
  /** Default "alice@example.com". */
  nameId?: string;
  /** Default emailAddress. */
  nameIdFormat?: string;
  /** An "email" attribute; none when left out. */
  email?: string;
  /** A multi-valued "groups" attribute; none when left out. */
  groups?: string[];
  /** The AuthnRequest's ID; left out for an IdP-initiated response. */
  inResponseTo?: string;
  /** Default the IdP's entity id. */
  issuer?: string;
  /** Response/@Destination, default acsUrl. */
  destination?: string;
  /** SubjectConfirmationData/@Recipient, default acsUrl. */
  recipient?: string;
  /** Conditions/@NotBefore, default a minute ago. */
  notBefore?: Date;
  /** Conditions and SubjectConfirmationData @NotOnOrAfter, default in 5 minutes. */
  notOnOrAfter?: Date;
  /** AuthnStatement/@SessionIndex, default random. */
  sessionIndex?: string;
  /** Default PasswordProtectedTransport. */
  authnContextClassRef?: string;
  /** Default random. */
  assertionId?: string;
  /** Default true. */
  signAssertion?: boolean;
  /** Default false. */
  signResponse?: boolean;
  /** Which key signs, default "idp"; KeyInfo holds that key's certificate. */
  key?: "idp" | "foreign";
  attack?: AttackName;
};

/** What the IdP answers at /sso; fields set here win over the request's. */
export type NextUser = Partial<ResponseOptions>;

export type AuthnRequestSeen = {
  id: string;
  acsUrl: string | null;
  issuer: string | null;
  relayState: string | null;
  /** Set when the request came signed over HTTP-Redirect. */
  sigAlg: string | null;
  signature: string | null;
  binding: "redirect" | "post";
  xml: string;
};

export type LogoutMessageSeen = {
  type: "LogoutRequest" | "LogoutResponse" | string;
  binding: "redirect" | "post";
  id: string | null;
  inResponseTo: string | null;
  relayState: string | null;
  sigAlg: string | null;
  signature: string | null;
  /** For HTTP-Redirect, the query string as received, to check its signature. */
  query: string | null;
  xml: string;
};

type LogoutCommon = {
  /** The service provider's SingleLogoutService URL. */
  destination: string;
  binding: "redirect" | "post";
  relayState?: string;
  /** Default the IdP's entity id. */
  issuer?: string;
  /** Default "idp". */
  key?: "idp" | "foreign";
};

export type LogoutRequestOptions = LogoutCommon & {
  nameId: string;
  nameIdFormat?: string;
  sessionIndex?: string;
  /** Default in 5 minutes. */
  notOnOrAfter?: Date;
};

export type LogoutResponseOptions = LogoutCommon & {
  inResponseTo: string;
  /** Default Success. */
  status?: string;
};

/**
 * A message ready to send. For "post", `params` are the form fields, signed
 * in the XML. For "redirect", the query signature covers the exact string in
 * `url`'s query: send `url` as is rather than re-serializing `params`.
 */
export type OutgoingMessage = {
  id: string;
  xml: string;
  url: string;
  params: URLSearchParams;
};

export type SamlIdp = {
  url: string;
  entityId: string;
  /** The IdP's signing certificate, PEM. */
  certPem: string;
  /** The same certificate as base64 DER, as in metadata and KeyInfo. */
  certBase64: string;
  /** The attacker's unrelated certificate, PEM. */
  foreignCertPem: string;
  metadata: string;
  /** Who signs in at /sso next, and how the response is made. */
  nextUser: NextUser;
  requests: AuthnRequestSeen[];
  logoutMessages: LogoutMessageSeen[];
  /** A base64 SAMLResponse, for the HTTP-POST binding. */
  response(o: ResponseOptions): string;
  logoutRequest(o: LogoutRequestOptions): OutgoingMessage & {
    SAMLRequest: string;
  };
  logoutResponse(o: LogoutResponseOptions): OutgoingMessage & {
    SAMLResponse: string;
  };
  close(): Promise<void>;
};

type KeyPair = { keyPem: string; certPem: string };

async function openssl(args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** An RSA-2048 key and a self-signed certificate for it, made now. */
async function makeKeyPair(dir: string, name: string, cn: string) {
  const keyFile = `${dir}/${name}.key.pem`;
  const certFile = `${dir}/${name}.cert.pem`;
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-sha256",
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  return {
    keyPem: await Deno.readTextFile(keyFile),
    certPem: await Deno.readTextFile(certFile),
  };
}

const pemBody = (pem: string) =>
  pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;");

const newId = () => "_" + randomUUID().replaceAll("-", "");

const instant = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

const parseXml = (xml: string) =>
  new DOMParser().parseFromString(xml, "text/xml");
type XmlDocument = ReturnType<typeof parseXml>;
type XmlElement = XmlDocument["documentElement"];
const serialize = (n: XmlDocument | XmlElement) =>
  new XMLSerializer().serializeToString(n);

/** An attribute's value, or null where it is absent (xmldom answers ""). */
const attr = (el: XmlElement, name: string) =>
  el.hasAttribute(name) ? el.getAttribute(name) : null;

const childElements = (parent: XmlElement, ns: string, local: string) =>
  Array.from(parent.childNodes).filter((n): n is XmlElement =>
    n.nodeType === 1 && (n as XmlElement).namespaceURI === ns &&
    (n as XmlElement).localName === local
  );
const firstChild = (parent: XmlElement, ns: string, local: string) => {
  const found = childElements(parent, ns, local)[0];
  if (!found) throw new Error(`no ${local} in ${parent.localName}`);
  return found;
};

/** An enveloped signature of the element with this ID, after its Issuer. */
function sign(xml: string, id: string, pair: KeyPair): string {
  const sig = new SignedXml({
    privateKey: pair.keyPem,
    publicCert: pair.certPem,
    signatureAlgorithm: ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  sig.addReference({
    xpath: `//*[@ID='${id}']`,
    transforms: [ALG.enveloped, ALG.excC14n],
    digestAlgorithm: ALG.sha256,
  });
  sig.computeSignature(xml, {
    prefix: "ds",
    location: {
      reference: `//*[@ID='${id}']/*[local-name(.)='Issuer']`,
      action: "after",
    },
  });
  return sig.getSignedXml();
}

/** Base64 and raw inflate, as the HTTP-Redirect binding carries XML. */
export function decodeRedirectMessage(param: string): string {
  return inflateRawSync(Buffer.from(param, "base64")).toString("utf8");
}

/** Base64, as the HTTP-POST binding carries XML. */
export function decodePostMessage(param: string): string {
  return Buffer.from(param, "base64").toString("utf8");
}

const unescapeHtml = (s: string) =>
  s.replace(/&quot;/g, '"').replace(/&#39;|&apos;/g, "'").replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">").replace(/&amp;/g, "&");

const htmlAttributes = (tag: string) => {
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    attrs[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3]);
  }
  return attrs;
};

/** The action and the SAML fields of an HTML form that posts itself. */
export function parseAutoPostForm(
  html: string,
): {
  action: string;
  SAMLResponse: string | null;
  SAMLRequest: string | null;
  RelayState: string | null;
} {
  const form = html.match(/<form\b[^>]*>/i);
  if (!form) throw new Error("no form in the page");
  const fields: Record<string, string> = {};
  for (const input of html.matchAll(/<input\b[^>]*>/gi)) {
    const a = htmlAttributes(input[0]);
    if (a.name) fields[a.name] = a.value ?? "";
  }
  return {
    action: htmlAttributes(form[0]).action ?? "",
    SAMLResponse: fields.SAMLResponse ?? null,
    SAMLRequest: fields.SAMLRequest ?? null,
    RelayState: fields.RelayState ?? null,
  };
}

function autoPostForm(action: string, fields: Record<string, string>) {
  const inputs = Object.entries(fields).map(([k, v]) =>
    `<input type="hidden" name="${esc(k)}" value="${esc(v)}"/>`
  ).join("");
  return `<!DOCTYPE html><html><body onload="document.forms[0].submit()">` +
    `<form method="post" action="${esc(action)}">${inputs}` +
    `<noscript><button type="submit">Continue</button></noscript>` +
    `</form></body></html>`;
}

/** An assertion's copy, unsigned, with a new ID and the attacker's identity. */
function evilCopy(assertion: XmlElement, id: string): XmlElement {
  const evil = assertion.cloneNode(true) as XmlElement;
  for (const s of childElements(evil, NS.dsig, "Signature")) {
    evil.removeChild(s);
  }
  evil.setAttribute("ID", id);
  const subject = firstChild(evil, NS.assertion, "Subject");
  setText(firstChild(subject, NS.assertion, "NameID"), ATTACKER_NAME_ID);
  for (
    const statement of childElements(evil, NS.assertion, "AttributeStatement")
  ) {
    for (const a of childElements(statement, NS.assertion, "Attribute")) {
      if (a.getAttribute("Name") !== "email") continue;
      for (const v of childElements(a, NS.assertion, "AttributeValue")) {
        setText(v, ATTACKER_NAME_ID);
      }
    }
  }
  return evil;
}

function setText(el: XmlElement, text: string) {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument.createTextNode(text));
}

function insertAfterIssuer(parent: XmlElement, node: XmlElement) {
  const issuer = firstChild(parent, NS.assertion, "Issuer");
  parent.insertBefore(node, issuer.nextSibling);
}

function dsObject(signature: XmlElement, content: XmlElement) {
  const object = signature.ownerDocument.createElementNS(NS.dsig, "ds:Object");
  object.appendChild(content);
  signature.appendChild(object);
}

/** Alters a signed response the way `attack` says. */
function applyAttack(xml: string, attack: AttackName): string {
  if (attack === "unsigned" || attack === "foreign_key") return xml;
  if (attack === "doctype") {
    return `<!DOCTYPE samlp:Response [<!ENTITY who "${ATTACKER_NAME_ID}">]>` +
      xml;
  }
  const doc = parseXml(xml);
  const response = doc.documentElement;
  const assertion = firstChild(response, NS.assertion, "Assertion");
  const nameId = firstChild(
    firstChild(assertion, NS.assertion, "Subject"),
    NS.assertion,
    "NameID",
  );
  switch (attack) {
    case "nameid_changed":
      setText(nameId, ATTACKER_NAME_ID);
      break;
    case "comment_injection": {
      const signed = nameId.textContent ?? "";
      if (!signed.startsWith(ATTACKER_NAME_ID)) {
        throw new Error(`comment_injection needs NameID ${ATTACKER_NAME_ID}…`);
      }
      setText(nameId, ATTACKER_NAME_ID);
      nameId.appendChild(doc.createComment(""));
      nameId.appendChild(
        doc.createTextNode(signed.slice(ATTACKER_NAME_ID.length)),
      );
      break;
    }
    case "xsw_unsigned_before":
      response.insertBefore(evilCopy(assertion, newId()), assertion);
      break;
    case "xsw_nested_in_evil": {
      const evil = evilCopy(assertion, newId());
      response.replaceChild(evil, assertion);
      firstChild(evil, NS.assertion, "Subject").appendChild(assertion);
      break;
    }
    case "xsw_signature_in_object": {
      const signature = firstChild(assertion, NS.dsig, "Signature");
      const evil = evilCopy(assertion, assertion.getAttribute("ID") ?? "");
      response.replaceChild(evil, assertion);
      assertion.removeChild(signature);
      dsObject(signature, assertion);
      insertAfterIssuer(evil, signature);
      break;
    }
    case "xsw_response_in_signature": {
      const signature = firstChild(response, NS.dsig, "Signature");
      const evil = response.cloneNode(true) as XmlElement;
      evil.removeChild(firstChild(evil, NS.dsig, "Signature"));
      const inner = firstChild(evil, NS.assertion, "Assertion");
      evil.replaceChild(
        evilCopy(inner, inner.getAttribute("ID") ?? ""),
        inner,
      );
      response.removeChild(signature);
      doc.replaceChild(evil, response);
      dsObject(signature, response);
      insertAfterIssuer(evil, signature);
      break;
    }
  }
  return serialize(doc);
}

export async function startSamlIdp(
  opts: { entityId?: string } = {},
): Promise<SamlIdp> {
  const dir = await Deno.makeTempDir({ prefix: "saml_idp_" });
  let idpKey: KeyPair, foreignKey: KeyPair;
  try {
    [idpKey, foreignKey] = await Promise.all([
      makeKeyPair(dir, "idp", "Test SAML IdP"),
      makeKeyPair(dir, "foreign", "Someone else"),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const pairs = { idp: idpKey, foreign: foreignKey };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => handle(req),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const entityId = opts.entityId ?? `${url}/metadata`;
  const certBase64 = pemBody(idpKey.certPem);

  const metadata =
    `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.dsig}" entityID="${
      esc(entityId)
    }">` +
    `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="${NS.protocol}">` +
    `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
    `<md:SingleLogoutService Binding="${BINDING.redirect}" Location="${url}/slo"/>` +
    `<md:SingleLogoutService Binding="${BINDING.post}" Location="${url}/slo"/>` +
    `<md:NameIDFormat>${NAME_ID_EMAIL}</md:NameIDFormat>` +
    `<md:SingleSignOnService Binding="${BINDING.redirect}" Location="${url}/sso"/>` +
    `<md:SingleSignOnService Binding="${BINDING.post}" Location="${url}/sso"/>` +
    `</md:IDPSSODescriptor></md:EntityDescriptor>`;

  function responseXml(o: ResponseOptions): string {
    const attack = o.attack;
    const signAssertion = attack === "unsigned"
      ? false
      : (o.signAssertion ?? true);
    const signResponse = attack === "unsigned"
      ? false
      : attack === "xsw_response_in_signature" || (o.signResponse ?? false);
    const pair = pairs[attack === "foreign_key" ? "foreign" : o.key ?? "idp"];
    const nameId = attack === "comment_injection"
      ? `${ATTACKER_NAME_ID}.evil.test`
      : o.nameId ?? "alice@example.com";
    const now = new Date();
    const notBefore = o.notBefore ?? new Date(now.getTime() - 60_000);
    const notOnOrAfter = o.notOnOrAfter ?? new Date(now.getTime() + 300_000);
    const responseId = newId();
    const assertionId = o.assertionId ?? newId();
    const issuer = esc(o.issuer ?? entityId);
    const inResponseTo = o.inResponseTo === undefined
      ? ""
      : ` InResponseTo="${esc(o.inResponseTo)}"`;
    const attributes = [
      ...(o.email === undefined ? [] : [["email", [o.email]] as const]),
      ...(o.groups === undefined ? [] : [["groups", o.groups] as const]),
    ].map(([name, values]) =>
      `<saml:Attribute Name="${name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">` +
      values.map((v) =>
        `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${
          esc(v)
        }</saml:AttributeValue>`
      ).join("") +
      `</saml:Attribute>`
    ).join("");
    let assertion =
      `<saml:Assertion xmlns:saml="${NS.assertion}" ID="${assertionId}" Version="2.0" IssueInstant="${
        instant(now)
      }">` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="${
        esc(o.nameIdFormat ?? NAME_ID_EMAIL)
      }">${esc(nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
      `<saml:SubjectConfirmationData NotOnOrAfter="${
        instant(notOnOrAfter)
      }" Recipient="${esc(o.recipient ?? o.acsUrl)}"${inResponseTo}/>` +
      `</saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${instant(notBefore)}" NotOnOrAfter="${
        instant(notOnOrAfter)
      }"><saml:AudienceRestriction><saml:Audience>${
        esc(o.audience)
      }</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${instant(now)}" SessionIndex="${
        esc(o.sessionIndex ?? newId())
      }"><saml:AuthnContext><saml:AuthnContextClassRef>${
        esc(o.authnContextClassRef ?? PASSWORD_PROTECTED_TRANSPORT)
      }</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      (attributes
        ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>`
        : "") +
      `</saml:Assertion>`;
    if (signAssertion) assertion = sign(assertion, assertionId, pair);
    let response =
      `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${responseId}" Version="2.0" IssueInstant="${
        instant(now)
      }" Destination="${esc(o.destination ?? o.acsUrl)}"${inResponseTo}>` +
      `<saml:Issuer>${issuer}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="${SUCCESS}"/></samlp:Status>` +
      assertion +
      `</samlp:Response>`;
    if (signResponse) response = sign(response, responseId, pair);
    return attack ? applyAttack(response, attack) : response;
  }

  /** Signs and encodes a logout message for its binding. */
  function outgoing(
    field: "SAMLRequest" | "SAMLResponse",
    xml: string,
    id: string,
    o: LogoutCommon,
  ): OutgoingMessage {
    const pair = pairs[o.key ?? "idp"];
    if (o.binding === "post") {
      const signed = sign(xml, id, pair);
      const params = new URLSearchParams({
        [field]: Buffer.from(signed).toString("base64"),
      });
      if (o.relayState !== undefined) params.set("RelayState", o.relayState);
      return { id, xml: signed, url: o.destination, params };
    }
    // HTTP-Redirect: the signature covers the query string, not the XML.
    const encoded = deflateRawSync(Buffer.from(xml)).toString("base64");
    let query = `${field}=${encodeURIComponent(encoded)}`;
    if (o.relayState !== undefined) {
      query += `&RelayState=${encodeURIComponent(o.relayState)}`;
    }
    query += `&SigAlg=${encodeURIComponent(ALG.rsaSha256)}`;
    const signature = createSign("RSA-SHA256").update(query).sign(
      pair.keyPem,
      "base64",
    );
    query += `&Signature=${encodeURIComponent(signature)}`;
    const sep = o.destination.includes("?") ? "&" : "?";
    return {
      id,
      xml,
      url: `${o.destination}${sep}${query}`,
      params: new URLSearchParams(query),
    };
  }

  const idp: SamlIdp = {
    url,
    entityId,
    certPem: idpKey.certPem,
    certBase64,
    foreignCertPem: foreignKey.certPem,
    metadata,
    nextUser: { nameId: "alice@example.com", email: "alice@example.com" },
    requests: [],
    logoutMessages: [],
    response: (o) => Buffer.from(responseXml(o)).toString("base64"),
    logoutRequest(o) {
      const id = newId();
      const notOnOrAfter = o.notOnOrAfter ??
        new Date(Date.now() + 300_000);
      const xml =
        `<samlp:LogoutRequest xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${
          instant(new Date())
        }" Destination="${esc(o.destination)}" NotOnOrAfter="${
          instant(notOnOrAfter)
        }">` +
        `<saml:Issuer>${esc(o.issuer ?? entityId)}</saml:Issuer>` +
        `<saml:NameID Format="${esc(o.nameIdFormat ?? NAME_ID_EMAIL)}">${
          esc(o.nameId)
        }</saml:NameID>` +
        (o.sessionIndex === undefined
          ? ""
          : `<samlp:SessionIndex>${esc(o.sessionIndex)}</samlp:SessionIndex>`) +
        `</samlp:LogoutRequest>`;
      const m = outgoing("SAMLRequest", xml, id, o);
      return { ...m, SAMLRequest: m.params.get("SAMLRequest") ?? "" };
    },
    logoutResponse(o) {
      const id = newId();
      const xml =
        `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" IssueInstant="${
          instant(new Date())
        }" Destination="${esc(o.destination)}" InResponseTo="${
          esc(o.inResponseTo)
        }">` +
        `<saml:Issuer>${esc(o.issuer ?? entityId)}</saml:Issuer>` +
        `<samlp:Status><samlp:StatusCode Value="${
          esc(o.status ?? SUCCESS)
        }"/></samlp:Status>` +
        `</samlp:LogoutResponse>`;
      const m = outgoing("SAMLResponse", xml, id, o);
      return { ...m, SAMLResponse: m.params.get("SAMLResponse") ?? "" };
    },
    close: () => server.shutdown(),
  };

  /** The AuthnRequest's browser visit: answered with a signed response. */
  function sso(
    xml: string,
    binding: "redirect" | "post",
    params: URLSearchParams,
  ): Response {
    const request = parseXml(xml).documentElement;
    if (request.localName !== "AuthnRequest") {
      return new Response(`not an AuthnRequest: ${request.localName}`, {
        status: 400,
      });
    }
    const issuer = childElements(request, NS.assertion, "Issuer")[0];
    const seen: AuthnRequestSeen = {
      id: attr(request, "ID") ?? "",
      acsUrl: attr(request, "AssertionConsumerServiceURL"),
      issuer: issuer?.textContent?.trim() ?? null,
      relayState: params.get("RelayState"),
      sigAlg: params.get("SigAlg"),
      signature: params.get("Signature"),
      binding,
      xml,
    };
    idp.requests.push(seen);
    const o = {
      acsUrl: seen.acsUrl ?? "",
      audience: seen.issuer ?? "",
      inResponseTo: seen.id,
      ...idp.nextUser,
    };
    if (!o.acsUrl) {
      return new Response("the AuthnRequest names no ACS URL", {
        status: 400,
      });
    }
    const fields: Record<string, string> = { SAMLResponse: idp.response(o) };
    if (seen.relayState !== null) fields.RelayState = seen.relayState;
    return new Response(autoPostForm(o.acsUrl, fields), {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  }

  function slo(
    xml: string,
    binding: "redirect" | "post",
    params: URLSearchParams,
    query: string | null,
  ): Response {
    const message = parseXml(xml).documentElement;
    idp.logoutMessages.push({
      type: message.localName ?? "",
      binding,
      id: attr(message, "ID"),
      inResponseTo: attr(message, "InResponseTo"),
      relayState: params.get("RelayState"),
      sigAlg: params.get("SigAlg"),
      signature: params.get("Signature"),
      query,
      xml,
    });
    return new Response("ok");
  }

  async function handle(req: Request): Promise<Response> {
    const u = new URL(req.url);
    try {
      if (req.method === "GET" && u.pathname === "/metadata") {
        return new Response(metadata, {
          headers: { "content-type": "application/samlmetadata+xml" },
        });
      }
      const post = req.method === "POST";
      const params = post
        ? new URLSearchParams(await req.text())
        : u.searchParams;
      const decode = post ? decodePostMessage : decodeRedirectMessage;
      const binding = post ? "post" : "redirect";
      if (u.pathname === "/sso" && (post || req.method === "GET")) {
        const m = params.get("SAMLRequest");
        if (!m) return new Response("no SAMLRequest", { status: 400 });
        return sso(decode(m), binding, params);
      }
      if (u.pathname === "/slo" && (post || req.method === "GET")) {
        const m = params.get("SAMLRequest") ?? params.get("SAMLResponse");
        if (!m) return new Response("no SAML message", { status: 400 });
        return slo(decode(m), binding, params, post ? null : u.search.slice(1));
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      return new Response(`bad SAML message: ${e}`, { status: 400 });
    }
  }

  return idp;
}
