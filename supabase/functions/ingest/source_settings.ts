// The source settings browser and mobile SDKs fetch before they send
// anything, so that pointing an SDK at Meridian is the only change it needs:
// - Segment's, as its CDN serves them: GET {cdn}/v1/projects/{writeKey}/settings.
//   analytics.js takes `cdnURL: "https://<project>/functions/v1/ingest"`, the
//   mobile SDKs `cdnHost: "<project>/functions/v1/ingest/v1"`; each then sends
//   its events to the apiHost named here.
// - RudderStack's, as its control plane serves them: GET {configUrl}/sourceConfig/
//   with the write key in Basic auth. The browser SDK takes
//   `configUrl: "https://<project>/functions/v1/ingest"` beside its dataPlaneUrl.

import type postgres from "postgres";
import { HttpError } from "../_shared/errors.ts";
import { jsonResponse } from "../_shared/http.ts";
import { authenticateWriteKey, writeKeyFrom } from "./write_key.ts";

export const SETTINGS_ROUTE = /^\/ingest\/v1\/projects\/([^/]+)\/settings\/?$/;
export const SOURCE_CONFIG_ROUTE = /^\/ingest\/sourceConfig\/?$/;

// Browsers fetch settings on every page load; a write key's settings change
// only when the project's host does. Private: the host comes from the request.
const CACHE_SECONDS = 300;

const LOOPBACK = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/** Where this request reached the function from outside, as the gateway saw it. */
export function publicOrigin(req: Request): { host: string; protocol: string } {
  const url = new URL(req.url);
  const host = req.headers.get("x-forwarded-host") ?? url.host;
  const forwarded = req.headers.get("x-forwarded-proto")?.split(",")[0].trim();
  // Unless a proxy says http, or this is loopback, https: behind a proxy the
  // function's own URL may say http, and an http apiHost is blocked as mixed
  // content on every https site.
  const http = forwarded === "http" ||
    (!forwarded && url.protocol === "http:" && LOOPBACK.test(host));
  return { host, protocol: http ? "http" : "https" };
}

/** Segment's settings document for a verified write key. */
function segmentSettings(req: Request, writeKey: string) {
  const { host, protocol } = publicOrigin(req);
  return {
    integrations: {
      // The SDKs' own destination: where, and over what, events go.
      "Segment.io": {
        apiKey: writeKey,
        apiHost: `${host}/functions/v1/ingest/v1`,
        protocol,
      },
    },
    plan: {},
    middlewareSettings: {},
    enabledMiddleware: {},
    // No SDK telemetry: analytics.js would post it to Segment's API.
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}

/** RudderStack's source config for a verified write key: no device-mode destinations. */
function rudderSourceConfig(
  writeKey: string,
  key: { orgId: string; sourceId: string },
) {
  return {
    source: {
      id: key.sourceId,
      writeKey,
      enabled: true,
      workspaceId: key.orgId,
      // Empty: no error reporting to RudderStack, no consent managers.
      config: {},
      // Empty: events go to the dataPlaneUrl the page gave.
      dataplanes: {},
      destinations: [],
    },
  };
}

const SETTINGS_HEADERS = {
  "Cache-Control": `private, max-age=${CACHE_SECONDS}`,
};

/** Answers GET on either settings route (see the routes above). */
export async function settingsResponse(
  req: Request,
  sql: postgres.Sql,
  ip: string | null,
): Promise<Response> {
  const url = new URL(req.url);
  const segment = url.pathname.match(SETTINGS_ROUTE);
  if (segment) {
    await authenticateWriteKey(sql, segment[1], ip);
    return jsonResponse(
      segmentSettings(req, segment[1]),
      200,
      SETTINGS_HEADERS,
    );
  }
  const writeKey = writeKeyFrom(req, {}) ?? url.searchParams.get("writeKey");
  if (!writeKey) {
    throw new HttpError(
      401,
      "unauthorized",
      "A write key is required (HTTP Basic username or ?writeKey=)",
    );
  }
  const key = await authenticateWriteKey(sql, writeKey, ip);
  return jsonResponse(rudderSourceConfig(writeKey, key), 200, SETTINGS_HEADERS);
}
