// Arranges an organization with a source and a write key for ingestion tests.
import type postgres from "postgres";
import { stack } from "./stack.ts";

export type IngestTarget = {
  orgId: string;
  sourceId: string;
  keyId: string;
  writeKey: string;
  url: string;
};

export async function createIngestTarget(
  sql: postgres.Sql,
  label: string,
): Promise<IngestTarget> {
  const slug = `${label}-${crypto.randomUUID().slice(0, 8)}`;
  const [org] =
    await sql`insert into public.organizations (name, slug) values (${label}, ${slug}) returning id`;
  const [source] = await sql`
    insert into public.sources (org_id, name, kind) values (${org.id}, 'Web', 'web') returning id`;
  const writeKey = `wk_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const [key] = await sql`
    insert into public.api_keys (org_id, name, kind, environment, scopes, prefix, last_four, source_id)
    values (${org.id}, 'test write key', 'write', 'test', '{events:write}', ${
    writeKey.slice(0, 12)
  },
            ${writeKey.slice(-4)}, ${source.id})
    returning id`;
  await sql`
    insert into private.api_key_secrets (key_hash, org_id, key_id)
    values (extensions.digest(${writeKey}, 'sha256'), ${org.id}, ${key.id})`;
  return {
    orgId: org.id,
    sourceId: source.id,
    keyId: key.id,
    writeKey,
    url: `${stack().apiUrl}/functions/v1/ingest`,
  };
}

export function basicAuth(writeKey: string): string {
  return `Basic ${btoa(`${writeKey}:`)}`;
}

export async function post(
  target: IngestTarget,
  path: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${target.url}/v1/${path}`, {
    method: "POST",
    headers: {
      Authorization: basicAuth(target.writeKey),
      "Content-Type": "application/json",
      ...headers,
    },
    body,
  });
  return { status: res.status, json: await res.json() };
}

/** One track call at baseUrl (the stack's or a separately started function's). */
export type TrackReply = {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
};

export async function track(
  baseUrl: string,
  target: IngestTarget,
  messageId: string,
): Promise<TrackReply> {
  const res = await fetch(`${baseUrl}/v1/track`, {
    method: "POST",
    headers: {
      Authorization: basicAuth(target.writeKey),
      "Content-Type": "application/json",
    },
    body: JSON.stringify({ userId: "hammer", event: "Hit", messageId }),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** A batch in flight: its ingest_batch call done, its transaction still open. */
export type OpenBatch = {
  commit(): Promise<void>;
  /** Rolls back if not committed, and gives the connection back. */
  close(): Promise<void>;
};

/**
 * Runs private.ingest_batch on a connection of its own and leaves the
 * transaction open, holding every lock the batch took, until commit().
 */
export async function openBatch(
  sql: postgres.Sql,
  target: IngestTarget,
  messages: postgres.JSONValue[],
): Promise<OpenBatch> {
  const tx = await sql.reserve();
  let open = false;
  const close = async () => {
    if (open) await tx`rollback`;
    open = false;
    tx.release();
  };
  try {
    await tx`begin`;
    open = true;
    await tx`
      select private.ingest_batch(${target.orgId}, ${target.sourceId}, ${
      sql.json(messages)
    })`;
  } catch (err) {
    await close();
    throw err;
  }
  return {
    async commit() {
      await tx`commit`;
      open = false;
    },
    close,
  };
}
