// Reported by the health function; bumped with each release.
export const MERIDIAN_VERSION = Deno.env.get("MERIDIAN_VERSION") ?? "0.1.0";
