// An IdP's SAML metadata (an EntityDescriptor, as Okta, Entra ID, ADFS and
// Google publish it) read into a connection's settings: the entity id, the
// HTTP-Redirect SingleSignOnService and SingleLogoutService locations, and the
// signing certificates (KeyDescriptor use="signing", or without a use). The
// metadata is taken as configuration, not as a trust anchor: it is read once,
// when an administrator imports it, and the certificates it names are stored
// and shown like ones entered by hand.
import { DOMParser } from "@xmldom/xmldom";

const REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
export const MAX_METADATA_BYTES = 1024 * 1024;

export class MetadataRefused extends Error {}

export type IdpMetadata = {
  entityId: string;
  ssoUrl: string;
  sloUrl: string | null;
  certificates: string[];
};

type El = ReturnType<DOMParser["parseFromString"]>["documentElement"];

const children = (
  el: El,
  localName: string,
) => (Array.from(el.getElementsByTagNameNS("*", localName)) as El[]);

const pem = (base64: string) =>
  `-----BEGIN CERTIFICATE-----\n${
    base64.replace(/\s+/g, "").match(/.{1,64}/g)!.join("\n")
  }\n-----END CERTIFICATE-----\n`;

export function parseIdpMetadata(xml: string): IdpMetadata {
  if (xml.length > MAX_METADATA_BYTES) {
    throw new MetadataRefused("the metadata is larger than 1 MB");
  }
  if (/<!DOCTYPE/i.test(xml)) {
    throw new MetadataRefused("metadata with a DOCTYPE is refused");
  }
  const fail = (message: string) => {
    throw new MetadataRefused(
      `the metadata is not well-formed XML: ${message}`,
    );
  };
  const doc = new DOMParser({
    errorHandler: { error: fail, fatalError: fail },
  }).parseFromString(xml, "text/xml");
  const root = doc.documentElement;
  // An EntitiesDescriptor (a federation's aggregate) holds many IdPs: the
  // administrator must pick one.
  const entities = root?.localName === "EntityDescriptor"
    ? [root]
    : children(root, "EntityDescriptor");
  if (entities.length !== 1) {
    throw new MetadataRefused(
      "the metadata must describe exactly one entity (an EntityDescriptor)",
    );
  }
  const entity = entities[0];
  const idp = children(entity, "IDPSSODescriptor")[0];
  const entityId = entity.getAttribute("entityID");
  if (!idp || !entityId) {
    throw new MetadataRefused(
      "the metadata has no IDPSSODescriptor with an entityID",
    );
  }
  const location = (name: string) =>
    children(idp, name).find((el) => el.getAttribute("Binding") === REDIRECT)
      ?.getAttribute("Location") || null;
  const ssoUrl = location("SingleSignOnService");
  if (!ssoUrl) {
    throw new MetadataRefused(
      "the IdP offers no SingleSignOnService with the HTTP-Redirect binding",
    );
  }
  const certificates = children(idp, "KeyDescriptor")
    .filter((kd) => (kd.getAttribute("use") ?? "signing") === "signing")
    .flatMap((kd) => children(kd, "X509Certificate"))
    .map((el) => pem(el.textContent ?? ""));
  if (certificates.length === 0) {
    throw new MetadataRefused("the IdP publishes no signing certificate");
  }
  return {
    entityId,
    ssoUrl,
    sloUrl: location("SingleLogoutService"),
    certificates: [...new Set(certificates)].slice(0, 5),
  };
}
