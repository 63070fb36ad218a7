// Reads a request body within a byte limit (also after gunzip), refusing
// oversized bodies early (413) and invalid UTF-8 (400) before any parsing.
import { HttpError } from "../_shared/errors.ts";

export async function readLimitedText(
  req: Request,
  maxBytes: number,
): Promise<string> {
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
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge(maxBytes);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
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
