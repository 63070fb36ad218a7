// Write keys, as Segment's and RudderStack's SDKs present them.
import type postgres from "postgres";
import { verifyApiKey } from "../_shared/auth.ts";
import { HttpError } from "../_shared/errors.ts";

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

/** The source a write key sends for; 401 unless it is a live write key. */
export async function authenticateWriteKey(
  sql: postgres.Sql,
  writeKey: string,
  ip: string | null,
): Promise<WriteKey> {
  const key = await verifyApiKey(sql, writeKey, ip);
  if (!key || key.kind !== "write" || !key.source_id) {
    throw new HttpError(
      401,
      "invalid_write_key",
      "The write key is invalid, revoked or not a write key",
    );
  }
  return { keyId: key.key_id, orgId: key.org_id, sourceId: key.source_id };
}
