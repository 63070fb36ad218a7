// What every route of the sso function shares: its database handle, the
// encryption key of secrets at rest, the caller's SSO session, the token
// response, and the audited refusal of a sign-in.
import { authenticate } from "../_shared/auth.ts";
import { sql } from "../_shared/db.ts";
import { HttpError } from "../_shared/errors.ts";
import { jsonResponse } from "../_shared/http.ts";
import { accessToken } from "./tokens.ts";

export const db = () => sql({ statementTimeoutMs: 10_000 });

export function encryptionKey(): string {
  const key = Deno.env.get("MERIDIAN_SSO_ENCRYPTION_KEY");
  if (!key || key.length < 32) {
    throw new Error("MERIDIAN_SSO_ENCRYPTION_KEY (32+ characters) is not set");
  }
  return key;
}

/** The caller's SSO session, from its verified access token. */
export async function callerSession(req: Request) {
  const principal = await authenticate(req, db());
  const claims = principal.kind === "user" ? principal.claims : null;
  const sessionId = claims?.session_id;
  const orgId = (claims?.app_metadata as Record<string, unknown> | undefined)
    ?.org_id;
  if (!claims || typeof sessionId !== "string" || typeof orgId !== "string") {
    throw new HttpError(
      401,
      "unauthorized",
      "An SSO session's access token is required",
    );
  }
  // RLS refuses a revoked session's token at once; the routes here must too
  // (a signed token outlives its session by up to its TTL).
  const [live] = await db()`
    select 1 from public.sso_sessions
    where org_id = ${orgId}::uuid and id = ${sessionId}::uuid
      and revoked_at is null and expires_at > now()`;
  if (!live) {
    throw new HttpError(
      401,
      "unauthorized",
      "This SSO session is revoked or over",
    );
  }
  return {
    userId: claims.sub as string,
    sessionId,
    orgId,
    aal: typeof claims.aal === "string" ? claims.aal : "aal1",
    email: typeof claims.email === "string" ? claims.email : "",
    ip: principal.context.ip,
  };
}

export type SessionRow = {
  session_id: string;
  org_id: string;
  user_id: string;
  connection_id: string;
  email: string | null;
  aal: string;
  amr: unknown[];
  refresh_token?: string;
};

/** The OAuth token response for a session. */
export async function tokenBody(row: SessionRow) {
  const { token, expiresIn } = await accessToken({
    sessionId: row.session_id,
    orgId: row.org_id,
    userId: row.user_id,
    connectionId: row.connection_id,
    email: row.email,
    aal: row.aal,
    amr: row.amr,
  });
  return {
    access_token: token,
    token_type: "bearer",
    expires_in: expiresIn,
    ...(row.refresh_token ? { refresh_token: row.refresh_token } : {}),
  };
}

export const tokenResponse = async (row: SessionRow) =>
  jsonResponse(await tokenBody(row));

/**
 * Audits a refused sign-in or logout message in the organization (in its own
 * statement: the refusal's transaction, if any, rolls back) and returns the
 * error to throw.
 */
export async function refusal(
  c: { org_id: string; id: string },
  status: number,
  code: string,
  reason: string,
  email?: string | null,
): Promise<HttpError> {
  await db()`select private.sso_record_failure(${c.org_id}::uuid, ${c.id}::uuid, ${reason},
               ${email ?? null})`;
  return new HttpError(status, code, reason);
}

export const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
