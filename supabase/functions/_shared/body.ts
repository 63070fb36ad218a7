// Reads a request body within a byte limit (also after gunzip) and a time
// limit, refusing oversized bodies early (413), slow ones (408) and invalid
// UTF-8 (400) before any parsing. Every function that reads a body reads it
// here: a body read without a deadline lets a client that sends a few bytes
// and waits hold whatever the request holds, for as long as it likes.
import { HttpError } from "./errors.ts";

export type BodyDeadline = {
  /** The whole body must arrive within this many ms of the read's start. */
  totalMs: number;
  /** ...and no gap between two chunks may be longer than this. */
  idleMs: number;
};

export const DEFAULT_BODY_DEADLINE: BodyDeadline = {
  totalMs: Number(Deno.env.get("MERIDIAN_BODY_TIMEOUT_MS") ?? 10_000),
  idleMs: Number(Deno.env.get("MERIDIAN_BODY_IDLE_TIMEOUT_MS") ?? 5_000),
};

function tooSlow(deadline: BodyDeadline, idle: boolean): HttpError {
  return new HttpError(
    408,
    "request_timeout",
    idle
      ? `The request body stalled: no data for ${deadline.idleMs} ms`
      : `The request body did not arrive within ${deadline.totalMs} ms`,
    [{
      field: "(body)",
      rule: idle
        ? `max_idle_ms:${deadline.idleMs}`
        : `max_ms:${deadline.totalMs}`,
      message: "request body too slow",
    }],
  );
}

/** The next chunk, or a 408 when it does not come in time. */
async function readWithin<T>(
  reader: ReadableStreamDefaultReader<T>,
  deadline: BodyDeadline,
  endsAt: number,
): Promise<ReadableStreamReadResult<T>> {
  const remaining = endsAt - Date.now();
  const idle = deadline.idleMs < remaining;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(tooSlow(deadline, idle)),
      Math.max(0, Math.min(deadline.idleMs, remaining)),
    );
  });
  try {
    return await Promise.race([reader.read(), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function readLimitedText(
  req: Request,
  maxBytes: number,
  deadline: BodyDeadline = DEFAULT_BODY_DEADLINE,
): Promise<string> {
  const endsAt = Date.now() + deadline.totalMs;
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await req.body?.cancel();
    throw tooLarge(maxBytes);
  }
  if (!req.body) return "";
  let stream: ReadableStream<Uint8Array> = req.body;
  const encoding = req.headers.get("content-encoding")?.toLowerCase();
  if (encoding === "gzip") {
    stream = stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as ReadableWritablePair<
        Uint8Array,
        Uint8Array
      >,
    );
  } else if (encoding && encoding !== "identity") {
    await req.body.cancel();
    throw new HttpError(
      415,
      "unsupported_encoding",
      `content-encoding ${encoding} is not supported`,
      [
        {
          field: "content-encoding",
          rule: "one_of:gzip,identity",
          message: encoding,
        },
      ],
    );
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await readWithin(reader, deadline, endsAt);
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) {
      // Stop reading: the rest is not wanted. A stream that already failed
      // refuses the cancel, and the answer is the same either way.
      await reader.cancel().catch(() => undefined);
      throw err;
    }
    throw new HttpError(
      400,
      "invalid_body",
      "The request body could not be read (corrupt gzip?)",
    );
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(
      400,
      "invalid_encoding",
      "The request body is not valid UTF-8",
      [
        {
          field: "(body)",
          rule: "utf8",
          message: "invalid UTF-8 byte sequence",
        },
      ],
    );
  }
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(
    413,
    "payload_too_large",
    `The request body exceeds ${maxBytes} bytes`,
    [
      {
        field: "(body)",
        rule: `max_bytes:${maxBytes}`,
        message: "request too large",
      },
    ],
  );
}

/**
 * A request's fields, as a form (OAuth's token requests, SAML's POST binding)
 * or a JSON object (every JSON API here); anything else is a 400 naming the body, never a parse
 * error's 500.
 */
export async function readFields(
  req: Request,
  maxBytes = 8 * 1024,
): Promise<Record<string, string> & Record<string, unknown>> {
  const text = await readLimitedText(req, maxBytes);
  const type = req.headers.get("content-type") ?? "";
  if (type.includes("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const value = JSON.parse(text || "{}");
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return value;
    }
  } catch {
    // Not JSON: the same 400 as JSON that is no object, below.
  }
  throw new HttpError(
    400,
    "invalid_request",
    "The body must be a JSON object or a form",
    [
      { field: "(body)", rule: "json_object_or_form", message: "unparseable" },
    ],
  );
}
