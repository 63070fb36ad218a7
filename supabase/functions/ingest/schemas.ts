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

// Contact fields become indexed profile columns and identifiers (identities'
// values and their unique index), so their type and size are checked here: a
// value Postgres cannot index (an object of 3 KB as an email) would fail the
// whole batch there. RFC 5321 allows an email 254 characters.
export const MAX_EMAIL_LENGTH = 254;
export const MAX_PHONE_LENGTH = 64;
export const MAX_IDENTIFIER_LENGTH = 512;

type Issue = { path: (string | number)[]; message: string };

/** What is wrong with the contact fields of a traits object. */
function contactIssues(traits: unknown): Issue[] {
  if (traits === null || typeof traits !== "object") return [];
  const t = traits as Record<string, unknown>;
  const issues: Issue[] = [];
  if (
    t.email != null &&
    (typeof t.email !== "string" || t.email.length > MAX_EMAIL_LENGTH)
  ) {
    issues.push({
      path: ["email"],
      message: `an email is a string of at most ${MAX_EMAIL_LENGTH} characters`,
    });
  }
  const phone = typeof t.phone === "number" ? String(t.phone) : t.phone;
  if (
    phone != null &&
    (typeof phone !== "string" || phone.length > MAX_PHONE_LENGTH)
  ) {
    issues.push({
      path: ["phone"],
      message:
        `a phone is a string or number of at most ${MAX_PHONE_LENGTH} characters`,
    });
  }
  return issues;
}

/** An identifier value as the context may carry it (device id, external ids). */
const fitsIdentifier = (v: unknown) =>
  v == null ||
  ((typeof v === "string" || (typeof v === "number" && Number.isFinite(v))) &&
    String(v).length <= MAX_IDENTIFIER_LENGTH);

/** What is wrong with the identifiers and contact fields of a context. */
function contextIssues(c: Record<string, unknown>): Issue[] {
  const issues = contactIssues(c.traits).map((i) => ({
    ...i,
    path: ["traits", ...i.path],
  }));
  const device = c.device;
  if (
    device !== null && typeof device === "object" &&
    !fitsIdentifier((device as Record<string, unknown>).id)
  ) {
    issues.push({
      path: ["device", "id"],
      message:
        `a device id is a string or number of at most ${MAX_IDENTIFIER_LENGTH} characters`,
    });
  }
  if (Array.isArray(c.externalIds)) {
    c.externalIds.forEach((e, i) => {
      const value = e !== null && typeof e === "object"
        ? (e as Record<string, unknown>).id
        : undefined;
      if (!fitsIdentifier(value)) {
        issues.push({
          path: ["externalIds", i, "id"],
          message:
            `an external id is a string or number of at most ${MAX_IDENTIFIER_LENGTH} characters`,
        });
      }
    });
  }
  return issues;
}

const reportIssues =
  (find: (v: Record<string, unknown>) => Issue[]) =>
  (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    for (const issue of find(value)) {
      ctx.addIssue({
        code: "custom",
        path: issue.path,
        message: issue.message,
      });
    }
  };

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
// Years 0001 to 9999 only: Postgres refuses year 0000, which ISO 8601 and zod
// accept, and one such field used to cost the whole batch.
const isoTime = z.iso.datetime({
  offset: true,
  local: true,
  // A value that is no date-time gets that one error, not the year's too.
  abort: true,
  error: "an ISO 8601 date-time, such as 2026-11-22T10:00:00.000Z",
}).refine(
  (v) => Number(v.slice(0, 4)) >= 1 && Number.isFinite(Date.parse(v)),
  { message: "a date-time between the years 0001 and 9999" },
);

const common = {
  messageId: z.string().min(1).max(200).optional(),
  anonymousId: optionalId,
  userId: optionalId,
  timestamp: isoTime.optional(),
  sentAt: isoTime.optional(),
  originalTimestamp: isoTime.optional(),
  // context.traits carries the user's traits on every call: its email and
  // phone identify, as do the device id and external ids.
  context: jsonObject.superRefine(reportIssues(contextIssues)).optional(),
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
).superRefine(reportIssues(contactIssues));

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
