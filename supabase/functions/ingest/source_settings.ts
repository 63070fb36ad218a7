// The source settings Segment's SDKs fetch before they send anything, as
// Segment's CDN serves them: GET {cdn}/v1/projects/{writeKey}/settings. With
// these, pointing an SDK's settings host at Meridian is the only change it
// needs: analytics.js takes `cdnURL: "https://<project>/functions/v1/ingest"`,
// the mobile SDKs `cdnHost: "<project>/functions/v1/ingest/v1"`, and each then
// sends its events to the apiHost named here.

export const SETTINGS_ROUTE = /^\/ingest\/v1\/projects\/([^/]+)\/settings\/?$/;

// Browsers fetch settings on every page load; a write key's settings change
// only when the project's host does. Private: the host comes from the request.
const CACHE_SECONDS = 300;

/** Where this request reached the function from outside, as the gateway saw it. */
function publicOrigin(req: Request): { host: string; protocol: string } {
  const url = new URL(req.url);
  const host = req.headers.get("x-forwarded-host") ?? url.host;
  const proto = (req.headers.get("x-forwarded-proto") ?? url.protocol)
    .replace(/:$/, "")
    .split(",")[0]
    .trim();
  return { host, protocol: proto === "http" ? "http" : "https" };
}

/** The settings document for a verified write key. */
export function sourceSettings(req: Request, writeKey: string) {
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

export const SETTINGS_HEADERS = {
  "Cache-Control": `private, max-age=${CACHE_SECONDS}`,
};
