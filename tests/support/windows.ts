// Rate limits count in windows aligned to the epoch (as @upstash/ratelimit's
// sliding window). A test that counts admissions per window starts far enough
// from a window's end that the whole run falls in one window.

/** Waits, if needed, until at least `needMs` remain in the current window. */
export async function startOfRoomyWindow(
  windowMs: number,
  needMs: number,
): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}
