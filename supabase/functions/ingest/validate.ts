// One message of a request, checked against its type's schema (schemas.ts),
// with the batch's own context and integrations applied to it as Segment
// applies them. A message that fails is reported, not thrown: a batch stores
// its valid messages and names the invalid ones.
import { type ErrorDetail, zodDetails } from "../_shared/errors.ts";
import { MESSAGE_SCHEMAS, MESSAGE_TYPES, type MessageType } from "./schemas.ts";

export const MAX_MESSAGE_BYTES = 32 * 1024;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v);

export type Rejected = {
  index: number;
  messageId: string | null;
  details: ErrorDetail[];
};

const encoder = new TextEncoder();

/**
 * The size in UTF-8 of a text over the message limit, else null. A UTF-16
 * code unit takes at most 3 bytes, so a text that fits even so (nearly every
 * message) is not encoded to be measured.
 */
function bytesOverLimit(text: string): number | null {
  if (text.length * 3 <= MAX_MESSAGE_BYTES) return null;
  const bytes = encoder.encode(text).byteLength;
  return bytes > MAX_MESSAGE_BYTES ? bytes : null;
}

export type Envelope = { context?: Obj; integrations?: Obj };

/**
 * The first value JSON can carry but Meridian cannot keep as sent: a number
 * too large for a double (1e400 parses as Infinity and would be stored as
 * null), or a "__proto__" key (valid JSON, but copying the object into a new
 * one through assignment, as validation does, would drop it). Refused with
 * the path rather than changed silently.
 */
export function unkeepableValue(
  value: unknown,
  path: string[] = [],
): ErrorDetail | null {
  if (typeof value === "number") {
    return Number.isFinite(value) ? null : {
      field: path.join(".") || "(message)",
      rule: "finite_number",
      message: "a number beyond the range of a double (about 1.8e308)",
    };
  }
  if (value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unkeepableValue(value[i], [...path, String(i)]);
      if (found) return found;
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (key === "__proto__") {
      return {
        field: [...path, key].join("."),
        rule: "reserved_key",
        message: 'the key "__proto__" is not accepted',
      };
    }
    const found = unkeepableValue((value as Obj)[key], [...path, key]);
    if (found) return found;
  }
  return null;
}

/**
 * `measured`: the message's size was already bounded as sent (a request of one
 * message, whose body is limited to MAX_MESSAGE_BYTES); measuring it again
 * after the function added its `type` refused a body of exactly the limit.
 */
export function validateMessage(
  raw: unknown,
  index: number,
  envelope: Envelope,
  { measured = false }: { measured?: boolean } = {},
): { message?: Obj; rejected?: Rejected } {
  const item = isObject(raw) ? raw : null;
  const messageId = typeof item?.messageId === "string" ? item.messageId : null;
  const reject = (details: ErrorDetail[]) => ({
    rejected: { index, messageId, details },
  });
  if (!item) {
    return reject([{
      field: "(message)",
      rule: "object",
      message: "a message is a JSON object",
    }]);
  }
  const bytes = measured ? null : bytesOverLimit(JSON.stringify(item));
  if (bytes !== null) {
    return reject([{
      field: "(message)",
      rule: `max_bytes:${MAX_MESSAGE_BYTES}`,
      message: `${bytes} bytes`,
    }]);
  }
  const unkeepable = unkeepableValue(item);
  if (unkeepable) return reject([unkeepable]);
  const type = item.type as MessageType;
  if (!MESSAGE_TYPES.includes(type)) {
    return reject([{
      field: "type",
      rule: `one_of:${MESSAGE_TYPES.join(",")}`,
      message: String(item.type),
    }]);
  }
  // The batch's context applies to each message, which may override it key by
  // key; a null context is no context. Any other context that is not an
  // object goes to the schema as sent, to be refused there: spread into an
  // object, a string would become {"0": ...}.
  const merged = {
    ...item,
    context: item.context == null || isObject(item.context)
      ? { ...envelope.context, ...item.context }
      : item.context,
    integrations: item.integrations ?? envelope.integrations,
  };
  const parsed = MESSAGE_SCHEMAS[type].safeParse(merged);
  if (!parsed.success) return reject(zodDetails(parsed.error));
  return { message: parsed.data as Obj };
}
