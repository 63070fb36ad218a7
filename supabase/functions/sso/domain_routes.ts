// POST /domains/verify {org_id, domain}: checks the TXT record that proves an
// organization holds an email domain it claimed (add_sso_domain), as WorkOS
// and Google Workspace verify domains: `_meridian-verification.<domain>`
// must hold `meridian-verification=<token>`. Where the policy waives DNS
// (local development) the domain is marked verified without a lookup.
import {
  authenticate,
  setRequestContext,
  withPrincipal,
} from "../_shared/auth.ts";
import { HttpError } from "../_shared/errors.ts";
import { jsonResponse } from "../_shared/http.ts";
import { db } from "./common.ts";
import { readFields } from "../_shared/body.ts";

export const RECORD_PREFIX = "_meridian-verification";
const LOOKUP_TIMEOUT_MS = 5_000;

function nameServer(value: string | null) {
  if (!value) return undefined;
  const at = value.lastIndexOf(":");
  return {
    nameServer: {
      ipAddr: value.slice(0, at),
      port: Number(value.slice(at + 1)),
    },
  };
}

/** The TXT strings at a name; none (NXDOMAIN, no record) is an empty list. */
async function txtRecords(
  name: string,
  server: string | null,
): Promise<string[]> {
  try {
    const records = await Deno.resolveDns(name, "TXT", {
      ...nameServer(server),
      signal: AbortSignal.timeout(LOOKUP_TIMEOUT_MS),
    });
    // A long TXT value arrives as several strings of up to 255 bytes.
    return records.map((chunks) => chunks.join(""));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new HttpError(
      502,
      "dns_lookup_failed",
      `The TXT lookup of ${name} failed: ${(err as Error).message}`,
    );
  }
}

export async function verifyDomain(req: Request): Promise<Response> {
  const body = await readFields(req, 2048);
  const orgId = typeof body.org_id === "string" ? body.org_id : "";
  const domain = typeof body.domain === "string"
    ? body.domain.trim().toLowerCase()
    : "";
  const principal = await authenticate(req, db(), { orgId });
  if (principal.kind !== "user") {
    throw new HttpError(
      401,
      "unauthorized",
      "A signed-in administrator is required",
    );
  }
  // Under the caller's own rights: only sso:manage sees the claimed domain.
  const [claimed] = await withPrincipal(
    db(),
    principal,
    (tx) =>
      tx`select d.domain from public.sso_domains d
         where d.org_id = ${orgId}::uuid and d.domain = ${domain}`,
  );
  if (!claimed) {
    throw new HttpError(
      404,
      "not_found",
      "No such domain claimed by the organization (add_sso_domain first)",
      [{ field: "domain", rule: "claimed", message: domain }],
    );
  }
  const [check] = await db()`
    select * from private.sso_domain_check(${orgId}::uuid, ${domain})`;
  const name = `${RECORD_PREFIX}.${domain}`;
  const expected = `meridian-verification=${check.verification_token}`;
  let verified = true;
  let error: string | null = null;
  if (check.dns_verification_required) {
    const found = await txtRecords(name, check.dns_nameserver);
    verified = found.includes(expected);
    if (!verified) {
      error = found.length
        ? `${name} holds no TXT record "${expected}"`
        : `${name} has no TXT record`;
    }
  }
  // Audited as the administrator who asked: append_audit reads the claims.
  const [row] = await db().begin(async (tx) => {
    await setRequestContext(tx, principal);
    await tx`select set_config('request.jwt.claims', ${
      JSON.stringify(principal.claims)
    }, true)`;
    return await tx`
      select * from private.record_sso_domain_check(${orgId}::uuid, ${domain}, ${verified}, ${error})`;
  });
  // A domain once verified stays verified (as WorkOS keeps it) even if its
  // record is later removed; the failed re-check is reported beside it.
  const stillVerified = row.verified_at !== null;
  return jsonResponse({
    domain,
    verified: stillVerified,
    verified_at: row.verified_at,
    record: { name, type: "TXT", value: expected },
    error,
  }, stillVerified ? 200 : 422);
}
