// Resolves who calls an edge function, once, into one Principal that rate limits,
// audit and permission checks all take: a user session (Supabase Auth JWT), an
// API key (x-api-key or Authorization: Bearer mk_/wk_), or an anonymous IP.
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import type postgres from "postgres";
import { HttpError } from "./errors.ts";

export type RequestContext = {
  ip: string | null;
  userAgent: string | null;
  requestId: string;
};

export type UserPrincipal = {
  kind: "user";
  actorId: string;
  email: string | null;
  orgId: string | null;
  /** Permissions in orgId, resolved in SQL from the member's role. */
  permissions: string[];
  claims: JWTPayload;
  context: RequestContext;
};

export type ApiKeyPrincipal = {
  kind: "api_key";
  actorId: string;
  orgId: string;
  workspaceId: string | null;
  keyKind: "secret" | "write";
  permissions: string[];
  rateLimitPerMinute: number | null;
  context: RequestContext;
};

export type AnonymousPrincipal = {
  kind: "anonymous";
  actorId: string;
  orgId: null;
  permissions: [];
  context: RequestContext;
};

export type Principal = UserPrincipal | ApiKeyPrincipal | AnonymousPrincipal;

const API_KEY_PATTERN = /^(mk|wk)_(live|test)_/;

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The address if it is a valid IPv4 or IPv6 literal, else null. */
export function parseIp(value: string | null | undefined): string | null {
  const v = value?.trim();
  if (!v) return null;
  if (IPV4.test(v)) return v;
  if (!/^[0-9a-fA-F:.]+$/.test(v) || !v.includes(":")) return null;
  try {
    // The URL parser validates IPv6 literals exactly.
    new URL(`http://[${v}]/`);
    return v;
  } catch {
    return null;
  }
}

// How many proxies in front of the functions append to X-Forwarded-For.
// Supabase's gateway (and dev/gateway.mjs) appends the address it received the
// request from, so the client is the right-most entry; behind one more proxy
// of yours that appends too (a CDN), set 2. Everything left of that is
// whatever the client wrote, and never trusted.
const TRUSTED_PROXY_HOPS = trustedProxyHops();

function trustedProxyHops(): number {
  const raw = Deno.env.get("MERIDIAN_TRUSTED_PROXY_HOPS") ?? "1";
  const hops = Number(raw);
  if (!Number.isInteger(hops) || hops < 1) {
    throw new Error(
      `MERIDIAN_TRUSTED_PROXY_HOPS must be a positive integer, not "${raw}"`,
    );
  }
  return hops;
}

/**
 * The client's address: the entry the outermost trusted proxy added, counted
 * from the right. Null when there is none or it is no address; callers that
 * limit by address must then treat the request as UNPARSEABLE_CLIENT (one
 * shared bucket), never as unlimited.
 */
export function clientIp(
  forwardedFor: string | null | undefined,
  hops = TRUSTED_PROXY_HOPS,
): string | null {
  const entries = (forwardedFor ?? "").split(",").map((e) => e.trim());
  if (entries.length < hops) return null;
  return parseIp(entries[entries.length - hops]);
}

/** The rate-limit bucket of every request whose address could not be read. */
export const UNPARSEABLE_CLIENT = "unparseable";

export function requestContext(req: Request): RequestContext {
  return {
    ip: clientIp(req.headers.get("x-forwarded-for")),
    userAgent: req.headers.get("user-agent"),
    requestId: req.headers.get("x-request-id") ?? crypto.randomUUID(),
  };
}

function bearer(req: Request): string | null {
  const m = req.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i);
  return m ? m[1].trim() : null;
}

// JWKS injected by the platform (SUPABASE_JWKS) plus, for projects still on the
// legacy shared secret, MERIDIAN_LEGACY_JWT_SECRET.
let keyResolver: JWTVerifyGetKey | null = null;
function verificationKeys(): JWTVerifyGetKey {
  if (keyResolver) return keyResolver;
  const jwksText = Deno.env.get("SUPABASE_JWKS");
  const jwks: JSONWebKeySet = jwksText ? JSON.parse(jwksText) : { keys: [] };
  const asymmetric = jwks.keys.length > 0 ? createLocalJWKSet(jwks) : null;
  const legacy = Deno.env.get("MERIDIAN_LEGACY_JWT_SECRET");
  const secret = legacy ? new TextEncoder().encode(legacy) : null;
  keyResolver = (header, token) => {
    if (header.alg === "HS256" && secret) return secret;
    if (asymmetric && header.alg !== "HS256") return asymmetric(header, token);
    throw new HttpError(
      401,
      "invalid_token",
      `no key to verify ${header.alg} tokens`,
    );
  };
  return keyResolver;
}

async function verifyUserToken(token: string): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, verificationKeys(), {
      algorithms: ["HS256", "ES256", "RS256"],
    });
    return payload;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(
      401,
      "invalid_token",
      "The access token is invalid or expired",
    );
  }
}

function hasAudience(claims: JWTPayload, audience: string): boolean {
  return Array.isArray(claims.aud)
    ? claims.aud.includes(audience)
    : claims.aud === audience;
}

/**
 * For functions only the platform calls (pg_cron through pg_net, the local
 * scheduler): the request must carry the service role key.
 */
export async function verifyServiceRole(req: Request): Promise<void> {
  const token = bearer(req);
  const claims = token ? await verifyUserToken(token) : null;
  if (claims?.role !== "service_role") {
    throw new HttpError(
      403,
      "forbidden",
      "This endpoint is called by the platform with the service role key",
    );
  }
}

export type VerifiedKey = {
  key_id: string;
  org_id: string;
  workspace_id: string | null;
  kind: "secret" | "write";
  scopes: string[];
  rate_limit_per_minute: number | null;
  source_id: string | null;
};

/** The live key a secret belongs to, or null (unknown, revoked, expired, wrong network). */
export async function verifyApiKey(
  sql: postgres.Sql,
  secret: string,
  ip: string | null,
): Promise<VerifiedKey | null> {
  const rows = await sql<VerifiedKey[]>`
    select * from private.verify_api_key(${secret}, ${ip}::inet)`;
  return rows[0] ?? null;
}

export type AuthOptions = {
  /** Accept callers with no credentials as anonymous principals (by IP). */
  allowAnonymous?: boolean;
  /** The organization the request acts on, when the caller chose one. */
  orgId?: string | null;
};

/** A caller known only by its address, for public endpoints. */
export function anonymousPrincipal(req: Request): AnonymousPrincipal {
  const context = requestContext(req);
  return {
    kind: "anonymous",
    actorId: context.ip ?? UNPARSEABLE_CLIENT,
    orgId: null,
    permissions: [],
    context,
  };
}

/** Authenticates the request. Throws HttpError(401) when credentials are bad. */
export async function authenticate(
  req: Request,
  sql: postgres.Sql,
  options: AuthOptions = {},
): Promise<Principal> {
  const context = requestContext(req);
  const token = bearer(req);
  const apiKey = req.headers.get("x-api-key") ??
    (token && API_KEY_PATTERN.test(token) ? token : null);

  // API KEY
  if (apiKey) {
    const key = await verifyApiKey(sql, apiKey, context.ip);
    if (!key) {
      throw new HttpError(
        401,
        "invalid_api_key",
        "The API key is invalid, expired or revoked",
      );
    }
    if (options.orgId && options.orgId !== key.org_id) {
      throw new HttpError(
        403,
        "forbidden",
        "The API key belongs to another organization",
        [
          {
            field: "org_id",
            rule: "matches_api_key",
            message: "org_id differs from the key's",
          },
        ],
      );
    }
    return {
      kind: "api_key",
      actorId: key.key_id,
      orgId: key.org_id,
      workspaceId: key.workspace_id,
      keyKind: key.kind,
      permissions: key.scopes,
      rateLimitPerMinute: key.rate_limit_per_minute,
      context,
    };
  }

  // USER SESSION
  if (token) {
    const claims = await verifyUserToken(token);
    if (
      claims.role === "authenticated" && !hasAudience(claims, "authenticated")
    ) {
      // Signed with the project's key, but minted for another audience.
      throw new HttpError(
        401,
        "invalid_token",
        'The access token\'s audience is not "authenticated"',
        [{
          field: "aud",
          rule: "equals:authenticated",
          message: String(claims.aud),
        }],
      );
    }
    if (claims.role === "authenticated" && typeof claims.sub === "string") {
      const orgId = options.orgId ?? null;
      const user: UserPrincipal = {
        kind: "user",
        actorId: claims.sub,
        email: typeof claims.email === "string" ? claims.email : null,
        orgId,
        permissions: [],
        claims,
        context,
      };
      if (orgId) {
        user.permissions = await withPrincipal(sql, user, async (tx) => {
          const [row] = await tx<{ permissions: string[] }[]>`
            select private.caller_permissions(${orgId}::uuid) as permissions`;
          return row.permissions;
        });
      }
      return user;
    }
    // The anon key: a browser with no session.
  }

  if (options.allowAnonymous) return anonymousPrincipal(req);
  throw new HttpError(
    401,
    "unauthorized",
    "Send a user access token (Authorization: Bearer) or an API key (x-api-key)",
  );
}

/** Throws 403 naming the permission unless the principal holds it. */
export function requirePermission(
  principal: Principal,
  permission: string,
): void {
  if (!(principal.permissions as string[]).includes(permission)) {
    throw new HttpError(403, "forbidden", `permission denied: ${permission}`, [
      { field: "permission", rule: "required", message: permission },
    ]);
  }
}

/** Tells SQL where the request came from (meridian.request), for the audit trail. */
export async function setRequestContext(
  tx: postgres.TransactionSql,
  principal: Principal,
): Promise<void> {
  const request = JSON.stringify({
    ip: principal.context.ip,
    user_agent: principal.context.userAgent,
    request_id: principal.context.requestId,
  });
  await tx`select set_config('meridian.request', ${request}, true)`;
}

/**
 * Runs fn in a transaction that acts as the principal: a user through RLS (role
 * authenticated with the session's claims, as PostgREST does), an API key as
 * service_role with its identity in meridian.principal for SQL to check.
 */
export function withPrincipal<T>(
  sql: postgres.Sql,
  principal: Principal,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return sql.begin(async (tx) => {
    await setRequestContext(tx, principal);
    if (principal.kind === "user") {
      await tx`select set_config('request.jwt.claims', ${
        JSON.stringify(principal.claims)
      }, true),
                      set_config('role', 'authenticated', true)`;
    } else if (principal.kind === "api_key") {
      const key = JSON.stringify({
        key_id: principal.actorId,
        org_id: principal.orgId,
        workspace_id: principal.workspaceId,
        scopes: principal.permissions,
      });
      await tx`select set_config('meridian.principal', ${key}, true),
                      set_config('role', 'service_role', true)`;
    } else {
      await tx`select set_config('role', 'anon', true)`;
    }
    return await fn(tx);
  }) as Promise<T>;
}
