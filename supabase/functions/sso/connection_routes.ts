// What an SSO manager sets on a connection that SQL alone cannot take: an
// OIDC client secret (encrypted with the function's key) and a SAML IdP's
// metadata, pasted or fetched from its URL and read here. Both act as the
// caller, so the sso:manage rules of the RPCs and RLS apply.
import {
  authenticate,
  type UserPrincipal,
  withPrincipal,
} from "../_shared/auth.ts";
import { HttpError } from "../_shared/errors.ts";
import { jsonResponse } from "../_shared/http.ts";
import { checkDestination, DestinationRefused } from "../_shared/ssrf.ts";
import { z } from "zod";
import { db, encryptionKey } from "./common.ts";
import {
  MAX_METADATA_BYTES,
  MetadataRefused,
  parseIdpMetadata,
} from "./saml_metadata.ts";
import { readFields } from "../_shared/body.ts";

const FETCH_TIMEOUT_MS = 10_000;

const ConnectionSecret = z.object({
  org_id: z.guid(),
  client_secret: z.string().min(8).max(512),
});

const MetadataBody = z.object({
  org_id: z.guid(),
  metadata_xml: z.string().min(1).max(MAX_METADATA_BYTES).optional(),
  metadata_url: z.url().max(2048).optional(),
}).refine(
  (b) => (b.metadata_xml === undefined) !== (b.metadata_url === undefined),
  {
    message: "give exactly one of metadata_xml and metadata_url",
    path: ["metadata_xml"],
  },
);

async function administrator(req: Request, orgId: string) {
  const principal = await authenticate(req, db(), { orgId });
  if (principal.kind !== "user") {
    throw new HttpError(
      401,
      "unauthorized",
      "A signed-in administrator is required",
    );
  }
  return principal as UserPrincipal;
}

/** PUT /connections/<id>/secret: an OIDC connection's client secret. */
export async function setClientSecret(
  req: Request,
  connectionId: string,
): Promise<Response> {
  const body = ConnectionSecret.safeParse(await readFields(req, 4096));
  if (!body.success) throw body.error;
  const principal = await administrator(req, body.data.org_id);
  await withPrincipal(
    db(),
    principal,
    (tx) =>
      tx`select private.set_sso_client_secret(${body.data.org_id}::uuid, ${connectionId}::uuid,
           ${body.data.client_secret}, ${encryptionKey()})`,
  );
  return jsonResponse({ connection_id: connectionId, client_secret_set: true });
}

const loopbackHttp = (url: string) =>
  /^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/.test(url);

/**
 * The IdP's metadata document at a URL: https to a public address (the SSRF
 * check of webhooks), or plain http on loopback for an IdP on the developer's
 * machine, as the connection's own URLs allow; no redirects, 1 MB, 10 s.
 */
async function fetchMetadata(rawUrl: string): Promise<string> {
  try {
    await checkDestination(rawUrl, { allowPrivate: loopbackHttp(rawUrl) });
  } catch (err) {
    if (!(err instanceof DestinationRefused)) throw err;
    throw new HttpError(400, "invalid_request", err.message, [
      { field: "metadata_url", rule: err.rule, message: err.message },
    ]);
  }
  let res: Response;
  try {
    res = await fetch(rawUrl, {
      redirect: "manual",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: "application/samlmetadata+xml, application/xml" },
    });
  } catch (err) {
    throw new HttpError(
      502,
      "metadata_unreachable",
      `The metadata URL could not be fetched: ${(err as Error).message}`,
    );
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new HttpError(
      502,
      "metadata_unreachable",
      `The metadata URL answered ${res.status}`,
    );
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_METADATA_BYTES) {
    throw new HttpError(400, "invalid_request", "The metadata is over 1 MB", [
      { field: "metadata_url", rule: "max_bytes", message: "1048576" },
    ]);
  }
  return new TextDecoder().decode(bytes);
}

/**
 * PUT /connections/<id>/saml-metadata: sets a SAML connection's IdP entity id,
 * sign-in and logout URLs and signing certificates from the IdP's metadata.
 */
export async function importSamlMetadata(
  req: Request,
  connectionId: string,
): Promise<Response> {
  const body = MetadataBody.safeParse(
    await readFields(req, MAX_METADATA_BYTES + 4096),
  );
  if (!body.success) throw body.error;
  const { org_id: orgId, metadata_xml, metadata_url } = body.data;
  const principal = await administrator(req, orgId);
  const xml = metadata_xml ?? await fetchMetadata(metadata_url!);
  let idp;
  try {
    idp = parseIdpMetadata(xml);
  } catch (err) {
    if (!(err instanceof MetadataRefused)) throw err;
    throw new HttpError(400, "invalid_request", err.message, [
      {
        field: metadata_xml ? "metadata_xml" : "metadata_url",
        rule: "saml_idp_metadata",
        message: err.message,
      },
    ]);
  }
  const [updated] = await withPrincipal(db(), principal, async (tx) => {
    const [c] = await tx`
      select protocol from public.sso_connections
      where org_id = ${orgId}::uuid and id = ${connectionId}::uuid`;
    if (!c) {
      throw new HttpError(404, "not_found", "No such connection", [
        { field: "connection_id", rule: "exists", message: connectionId },
      ]);
    }
    if (c.protocol !== "saml") {
      throw new HttpError(
        400,
        "invalid_request",
        "Only a SAML connection takes IdP metadata",
        [{ field: "connection_id", rule: "protocol:saml", message: "" }],
      );
    }
    return await tx`
      select id, saml_idp_entity_id, saml_idp_sso_url, saml_idp_slo_url,
             cardinality(saml_idp_certificates) as certificates
      from public.update_sso_connection(p_org_id => ${orgId}::uuid,
        p_connection_id => ${connectionId}::uuid, p_saml_idp_entity_id => ${idp.entityId},
        p_saml_idp_sso_url => ${idp.ssoUrl}, p_saml_idp_slo_url => ${idp.sloUrl},
        p_saml_idp_certificates => ${idp.certificates}::text[])`;
  });
  return jsonResponse(updated);
}
