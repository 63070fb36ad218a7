// Text that JSON can carry and Postgres cannot store. Two characters arrive as
// valid JSON escapes yet fail in the database: U+0000 (text and jsonb refuse
// it) and an unpaired UTF-16 surrogate such as "\ud83d" (jsonb refuses it).
// Both are common in the wild: a NUL pasted into a form, an emoji cut in half
// by a client truncating a page title. Refusing the message would lose a whole
// event for one broken character, and failing the statement would cost every
// other message of its batch; so such characters are stored as U+FFFD, the
// replacement character, as any UTF-8 encoder does with a lone surrogate and as
// PostHog's ingestion does with NUL.

// In a body that decoded as UTF-8, these characters can only come from
// escapes: a raw NUL inside a JSON string is a syntax error, and a raw lone
// surrogate is not UTF-8. So a body without such an escape needs no repair
// (the common case, decided without walking the parsed value). A valid pair
// or an escaped backslash also matches: the walk then changes nothing.
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;

/** Whether JSON text may decode to strings Postgres cannot store. */
export function mayHoldUnstorableText(json: string): boolean {
  return SUSPECT_ESCAPE.test(json);
}

/** The string with U+0000 and unpaired surrogates replaced by U+FFFD. */
export function storableString(text: string): string {
  const wellFormed = text.isWellFormed() ? text : text.toWellFormed();
  return wellFormed.includes("\0")
    ? wellFormed.replaceAll("\0", "\uFFFD")
    : wellFormed;
}

/**
 * A copy of a JSON value with every string and object key made storable.
 * Recursive: call it on values whose depth is already bounded (validated
 * messages are), and only when mayHoldUnstorableText said so.
 */
export function toStorableJson<T>(value: T): T {
  if (typeof value === "string") return storableString(value) as T;
  if (Array.isArray(value)) return value.map(toStorableJson) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map((
        [key, entry],
      ) => [storableString(key), toStorableJson(entry)]),
    ) as T;
  }
  return value;
}
