// Segment's Tracking API message shapes, validated per type. Unknown fields are
// kept (passthrough): SDKs send more than the spec names.
import { z } from "zod";

/** JSON values nested at most this deep (hostile payloads nest far deeper). */
export const MAX_DEPTH = 16;

function depth(value: unknown, level = 0): number {
  if (level > MAX_DEPTH) return level;
  if (Array.isArray(value)) {
    return value.reduce(
      (m: number, v) => Math.max(m, depth(v, level + 1)),
      level + 1,
    );
  }
  if (value !== null && typeof value === "object") {
    return Object.values(value).reduce(
      (m: number, v) => Math.max(m, depth(v, level + 1)),
      level + 1,
    );
  }
  return level;
}

const jsonObject = z.record(z.string(), z.unknown()).refine(
  (v) => depth(v) <= MAX_DEPTH,
  { message: `nested deeper than ${MAX_DEPTH} levels` },
);

// An email is an identifier and an indexed profile field; RFC 5321 allows 254
// characters, and a longer value would fail the whole batch in Postgres.
export const MAX_EMAIL_LENGTH = 254;
const emailFits = (traits: unknown) => {
  const email = traits !== null && typeof traits === "object"
    ? (traits as Record<string, unknown>).email
    : undefined;
  return typeof email !== "string" || email.length <= MAX_EMAIL_LENGTH;
};
const emailRule = (path: string[]) => ({
  message: `an email has at most ${MAX_EMAIL_LENGTH} characters`,
  path,
});

const ID_RULE = "a string of 1 to 512 characters, or a number";
const id = z.union([z.string().min(1).max(512), z.number().finite()], {
  error: ID_RULE,
}).transform((v) => String(v));
// Where an id may be absent, an empty string is absent: RudderStack's browser
// SDK sends userId "" until identify.
const optionalId = z.union([z.literal("").transform(() => null), id], {
  error: ID_RULE,
})
  .optional().nullable();

// With an offset, in UTC (Z) or without a zone, as Segment's libraries send it.
const isoTime = z.iso.datetime({
  offset: true,
  local: true,
  error: "an ISO 8601 date-time, such as 2026-11-22T10:00:00.000Z",
});

const common = {
  messageId: z.string().min(1).max(200).optional(),
  anonymousId: optionalId,
  userId: optionalId,
  timestamp: isoTime.optional(),
  sentAt: isoTime.optional(),
  originalTimestamp: isoTime.optional(),
  // context.traits carries the user's traits on every call: its email identifies.
  context: jsonObject.refine(
    (c) => emailFits(c.traits),
    emailRule(["traits", "email"]),
  ).optional(),
  integrations: jsonObject.optional(),
};

const needsAnId = (
  m: { userId?: string | null; anonymousId?: string | null },
) => Boolean(m.userId) || Boolean(m.anonymousId);
const idRule = {
  message: "userId or anonymousId is required",
  path: ["userId"],
};

// Identify traits may carry "$unset": the names of traits to remove from the
// profile. A name that is not a string (null above all) would reach the
// profile fold as no key at all and fail the batch, so it is refused here.
const identifyTraits = jsonObject.refine(
  (t) =>
    t.$unset === undefined ||
    (Array.isArray(t.$unset) &&
      t.$unset.every((name) => typeof name === "string")),
  { message: "an array of trait names (strings)", path: ["$unset"] },
).refine(emailFits, emailRule(["email"]));

export const IdentifyMessage = z.looseObject({
  ...common,
  type: z.literal("identify"),
  traits: identifyTraits.optional(),
}).refine(needsAnId, idRule);

export const TrackMessage = z.looseObject({
  ...common,
  type: z.literal("track"),
  event: z.string().min(1).max(200),
  properties: jsonObject.optional(),
}).refine(needsAnId, idRule);

export const PageMessage = z.looseObject({
  ...common,
  type: z.literal("page"),
  name: z.string().max(200).optional().nullable(),
  category: z.string().max(200).optional().nullable(),
  properties: jsonObject.optional(),
}).refine(needsAnId, idRule);

export const ScreenMessage = z.looseObject({
  ...common,
  type: z.literal("screen"),
  name: z.string().max(200).optional().nullable(),
  properties: jsonObject.optional(),
}).refine(needsAnId, idRule);

export const GroupMessage = z.looseObject({
  ...common,
  type: z.literal("group"),
  groupId: id,
  traits: jsonObject.optional(),
}).refine(needsAnId, idRule);

export const AliasMessage = z.looseObject({
  ...common,
  type: z.literal("alias"),
  previousId: id,
  userId: id,
});

export const MESSAGE_SCHEMAS = {
  identify: IdentifyMessage,
  track: TrackMessage,
  page: PageMessage,
  screen: ScreenMessage,
  group: GroupMessage,
  alias: AliasMessage,
} as const;

export type MessageType = keyof typeof MESSAGE_SCHEMAS;
export const MESSAGE_TYPES = Object.keys(MESSAGE_SCHEMAS) as MessageType[];

export type ValidMessage = z.infer<(typeof MESSAGE_SCHEMAS)[MessageType]>;

export const BatchEnvelope = z.looseObject({
  batch: z.array(z.unknown()).min(1).max(2500),
  context: jsonObject.optional(),
  integrations: jsonObject.optional(),
  sentAt: isoTime.optional(),
  writeKey: z.string().optional(),
});
