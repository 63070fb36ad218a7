// Response helpers every function uses: JSON bodies and CORS, as in Supabase's
// edge-function examples (browsers call functions through supabase-js).

export const corsHeaders: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers":
    "authorization, x-client-info, apikey, content-type, x-api-key, idempotency-key",
  "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  "Access-Control-Expose-Headers":
    "ratelimit, ratelimit-policy, retry-after, x-ratelimit-reset, x-request-id",
};

export function jsonResponse(
  body: unknown,
  status = 200,
  headers: HeadersInit = {},
): Response {
  const h = new Headers(headers);
  for (const [k, v] of Object.entries(corsHeaders)) {
    if (!h.has(k)) h.set(k, v);
  }
  h.set("Content-Type", "application/json");
  return new Response(JSON.stringify(body), { status, headers: h });
}

// A list of header names, as a preflight's Access-Control-Request-Headers.
const HEADER_NAMES =
  /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

/**
 * Answers a CORS preflight, or returns null when the request is not one.
 * `anyHeader` allows whatever headers the page asks for: SDKs that run on
 * customers' sites send headers of their own, which change between versions
 * (RudderStack's: AnonymousId, SentAt, RSA-Since-Last-Attempt...). Safe where
 * no response is readable with credentials, as with Allow-Origin "*".
 */
export function preflight(
  req: Request,
  { anyHeader = false }: { anyHeader?: boolean } = {},
): Response | null {
  if (req.method !== "OPTIONS") return null;
  const asked = req.headers.get("access-control-request-headers")?.trim();
  const headers = anyHeader && asked && HEADER_NAMES.test(asked)
    ? { ...corsHeaders, "Access-Control-Allow-Headers": asked }
    : corsHeaders;
  return new Response("ok", { headers });
}

/** The response with extra headers (e.g. RateLimit) added where not already set. */
export function withHeaders(
  response: Response,
  headers: Record<string, string>,
): Response {
  for (const [k, v] of Object.entries(headers)) {
    if (!response.headers.has(k)) response.headers.set(k, v);
  }
  return response;
}
