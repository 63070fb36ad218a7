// Write keys, as Segment's and RudderStack's SDKs present them, and the
// admission of the requests they sign.
import type postgres from "postgres";
import {
  type Principal,
  requestContext,
  verifyApiKey,
} from "../_shared/auth.ts";
import { HttpError } from "../_shared/errors.ts";
import {
  admit,
  type AdmitRow,
  type Decision,
  decisionFromRow,
  limiterBackend,
  rateLimitedError,
} from "../_shared/rate_limit.ts";

type Obj = Record<string, unknown>;

export type WriteKey = { keyId: string; orgId: string; sourceId: string };

/** Segment's HTTP Basic: the write key is the username, the password empty. */
export function writeKeyFrom(req: Request, body: Obj): string | null {
  const auth = req.headers.get("authorization");
  const m = auth?.match(/^Basic\s+(.+)$/i);
  if (m) {
    try {
      const user = atob(m[1].trim()).split(":")[0];
      if (user) return user;
    } catch {
      throw new HttpError(
        401,
        "unauthorized",
        "Malformed Basic authorization header",
      );
    }
  }
  return typeof body.writeKey === "string" && body.writeKey
    ? body.writeKey
    : null;
}

const invalidWriteKey = () =>
  new HttpError(
    401,
    "invalid_write_key",
    "The write key is invalid, revoked or not a write key",
  );

/** The source a write key sends for; 401 unless it is a live write key. */
export async function authenticateWriteKey(
  sql: postgres.Sql,
  writeKey: string,
  ip: string | null,
): Promise<WriteKey> {
  const key = await verifyApiKey(sql, writeKey, ip);
  if (!key || key.kind !== "write" || !key.source_id) throw invalidWriteKey();
  return { keyId: key.key_id, orgId: key.org_id, sourceId: key.source_id };
}

/** A write key as the principal rate limits take. */
function writeKeyPrincipal(req: Request, key: WriteKey): Principal {
  return {
    kind: "api_key",
    actorId: key.keyId,
    orgId: key.orgId,
    workspaceId: null,
    keyKind: "write",
    permissions: ["events:write"],
    rateLimitPerMinute: null,
    context: requestContext(req),
  };
}

type AdmittedRow = Omit<AdmitRow, "allowed"> & {
  key_id: string;
  org_id: string;
  kind: string;
  source_id: string | null;
  allowed: boolean | null;
};

/**
 * Authenticates a write key and admits its request: 401 unless it is a live
 * write key, 429 past its rate limit. When Postgres decides rate limits, both
 * take one round trip and one transaction (private.admit_write_key); with
 * Upstash deciding them, the key is checked in Postgres and the request
 * admitted in Redis.
 */
export async function admitWriteKey(
  sql: postgres.Sql,
  req: Request,
  writeKey: string,
  ip: string | null,
  endpoint: string,
): Promise<{ key: WriteKey; decision: Decision | null }> {
  if (limiterBackend() !== "postgres") {
    const key = await authenticateWriteKey(sql, writeKey, ip);
    return {
      key,
      decision: await admit(sql, writeKeyPrincipal(req, key), endpoint),
    };
  }
  const [row] = await sql<AdmittedRow[]>`
    select * from private.admit_write_key(${writeKey}, ${ip}, ${endpoint})`;
  if (!row || row.kind !== "write" || !row.source_id) {
    throw invalidWriteKey();
  }
  const decision = decisionFromRow(row as AdmitRow, endpoint);
  if (decision && !decision.allowed) throw rateLimitedError(decision);
  return {
    key: { keyId: row.key_id, orgId: row.org_id, sourceId: row.source_id },
    decision,
  };
}
