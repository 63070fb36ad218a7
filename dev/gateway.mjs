// The API gateway: one base URL with Supabase's paths, so supabase-js and curl work
// against the local stack unchanged. Plays the part of Kong and the Edge Runtime's
// relay on a hosted project:
//   /rest/v1/*            -> PostgREST (the apikey becomes the bearer when absent)
//   /functions/v1/<name>/* -> that function, which sees /<name>/*; JWT verified
//                            unless config.toml sets verify_jwt = false
// Run as `node dev/gateway.mjs <stack.json>`.
import { Agent, createServer, request as httpRequest } from "node:http";
import { readFileSync } from "node:fs";
import { verifyToken } from "./keys.mjs";

function sendJson(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

function bearer(req) {
  const header = req.headers.authorization ?? "";
  const m = header.match(/^Bearer\s+(.+)$/i);
  return m ? m[1].trim() : null;
}

// Reuse upstream connections: a new TCP connection per request costs more than
// the proxying itself.
const upstreamAgent = new Agent({ keepAlive: true, maxSockets: 128 });

// Limits as a hosted project's gateway has them: a request body larger than
// this is refused before it reaches PostgREST or a function; a request whose
// headers and body take longer than REQUEST_TIMEOUT_MS to arrive is answered
// 408; an upstream silent for UPSTREAM_IDLE_MS is answered 504 (Supabase's
// Edge Functions have a 150 s request idle timeout).
export const GATEWAY_LIMITS = {
  maxBodyBytes: Number(
    process.env.MERIDIAN_GATEWAY_MAX_BODY_BYTES ?? 4 * 1024 * 1024,
  ),
  requestTimeoutMs: Number(
    process.env.MERIDIAN_GATEWAY_REQUEST_TIMEOUT_MS ?? 30_000,
  ),
  upstreamIdleMs: Number(
    process.env.MERIDIAN_GATEWAY_UPSTREAM_IDLE_MS ?? 150_000,
  ),
};

function tooLarge(res, limit) {
  sendJson(res, 413, {
    code: "PAYLOAD_TOO_LARGE",
    message: `request body exceeds the gateway's limit of ${limit} bytes`,
  });
}

function proxy(req, res, { port, path, headers }) {
  const limit = GATEWAY_LIMITS.maxBodyBytes;
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    // Say so before reading it; the connection closes after the answer.
    res.setHeader("connection", "close");
    tooLarge(res, limit);
    req.resume();
    return;
  }
  const upstream = httpRequest({
    agent: upstreamAgent,
    host: "127.0.0.1",
    port,
    method: req.method,
    path,
    headers: {
      ...headers,
      // Appended, as Supabase's gateway and every proxy do: the functions take
      // the right-most entry as the client (MERIDIAN_TRUSTED_PROXY_HOPS).
      "x-forwarded-for": [
        req.headers["x-forwarded-for"],
        req.socket.remoteAddress,
      ]
        .filter(Boolean).join(", "),
      "x-forwarded-host": req.headers.host ?? "",
      "x-forwarded-proto": "http",
    },
  }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    // An upstream that aborts mid-body must abort the client's response too,
    // or the client waits forever for the rest of a chunked body.
    upRes.on("aborted", () => res.destroy());
    upRes.on("error", () => res.destroy());
    upRes.pipe(res);
  });
  upstream.setTimeout(GATEWAY_LIMITS.upstreamIdleMs, () => {
    upstream.destroy(Object.assign(new Error("upstream idle"), {
      code: "UPSTREAM_TIMEOUT",
    }));
  });
  upstream.on("error", (err) => {
    if (res.headersSent || res.destroyed) return res.destroy();
    const timedOut = err.code === "UPSTREAM_TIMEOUT";
    sendJson(res, timedOut ? 504 : 503, {
      code: timedOut ? "UPSTREAM_TIMEOUT" : "UPSTREAM_UNAVAILABLE",
      message: timedOut
        ? `upstream on port ${port} sent nothing for ${GATEWAY_LIMITS.upstreamIdleMs} ms`
        : `upstream on port ${port} is not answering: ${
          err.code ?? err.message
        }`,
    });
  });
  // A client that goes away mid-request must release the upstream connection:
  // otherwise each one holds an agent socket until the upstream gives up, and
  // after maxSockets of them every later request queues.
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  // Bodies sent in chunks (no content-length) are counted as they arrive.
  let received = 0;
  req.on("data", (chunk) => {
    received += chunk.length;
    if (received > limit && !res.headersSent) {
      req.unpipe(upstream);
      upstream.destroy();
      res.setHeader("connection", "close");
      tooLarge(res, limit);
    }
  });
  req.pipe(upstream);
}

export function createGateway(state) {
  const functions = new Map(state.functions.map((f) => [f.name, f]));
  return createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://gateway");
    const path = url.pathname;

    // REST -------------------------------------------------------------------
    if (path === "/rest/v1" || path.startsWith("/rest/v1/")) {
      const apikey = req.headers.apikey ?? url.searchParams.get("apikey");
      const headers = { ...req.headers };
      if (!headers.authorization && apikey) {
        headers.authorization = `Bearer ${apikey}`;
      }
      if (!headers.authorization && req.method !== "OPTIONS") {
        return sendJson(res, 401, {
          message: "No API key found in request",
          hint: "No `apikey` request header or url param was found.",
        });
      }
      const rest = path.slice("/rest/v1".length) || "/";
      return proxy(req, res, {
        port: state.postgrestPort,
        path: rest + url.search,
        headers,
      });
    }

    // FUNCTIONS ---------------------------------------------------------------
    const fnMatch = path.match(/^\/functions\/v1\/([^/]+)(\/.*)?$/);
    if (fnMatch) {
      const fn = functions.get(fnMatch[1]);
      if (!fn) {
        return sendJson(res, 404, {
          code: "NOT_FOUND",
          message: "Requested function was not found",
        });
      }
      // Preflight requests carry no Authorization header; the function answers CORS.
      if (fn.verifyJwt && req.method !== "OPTIONS") {
        const token = bearer(req);
        if (!token) {
          return sendJson(res, 401, {
            code: 401,
            message: "Missing authorization header",
          });
        }
        try {
          await verifyToken(token, state.keys.jwks);
        } catch {
          return sendJson(res, 401, { code: 401, message: "Invalid JWT" });
        }
      }
      return proxy(req, res, {
        port: fn.port,
        path: `/${fn.name}${fnMatch[2] ?? ""}${url.search}`,
        headers: req.headers,
      });
    }

    sendJson(res, 404, { message: "no Route matched with those values" });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const state = JSON.parse(readFileSync(process.argv[2], "utf8"));
  const server = createGateway(state);
  // Node answers 408 and closes when headers and body take longer than this.
  server.requestTimeout = GATEWAY_LIMITS.requestTimeoutMs;
  server.headersTimeout = Math.min(GATEWAY_LIMITS.requestTimeoutMs, 20_000);
  server.listen(state.apiPort, "127.0.0.1", () => {
    console.log(`gateway listening on http://127.0.0.1:${state.apiPort}`);
  });
  const shutdown = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}
