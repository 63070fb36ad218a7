// Response helpers every function uses: JSON bodies and CORS, as in Supabase's
// edge-function examples (browsers call functions through supabase-js).

export const corsHeaders: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  // anonymousid: RudderStack's browser SDK sends each event's anonymous id in
  // an AnonymousId header, so its preflight fails unless the header is allowed.
  "Access-Control-Allow-Headers":
    "authorization, x-client-info, apikey, content-type, x-api-key, idempotency-key, anonymousid",
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

/** Answers a CORS preflight, or returns null when the request is not one. */
export function preflight(req: Request): Response | null {
  if (req.method !== "OPTIONS") return null;
  return new Response("ok", { headers: corsHeaders });
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
