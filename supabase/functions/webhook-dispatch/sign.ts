// Standard Webhooks signatures: "v1," + base64 of HMAC-SHA256 over
// "<webhook-id>.<webhook-timestamp>.<body>", keyed with the bytes that the
// whsec_ secret's base64 encodes; one signature per live secret, separated by
// spaces, so receivers keep verifying through a secret rotation. The bytes
// signed are the bytes sent: callers sign the exact body string they post.
import { decodeBase64, encodeBase64 } from "./base64.ts";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      decodeBase64(secret.replace(/^whsec_/, "")),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    keys.set(secret, key);
  }
  return key;
}

export async function signatureHeader(
  secrets: string[],
  id: string,
  timestamp: number,
  body: string,
): Promise<string> {
  const content = encoder.encode(`${id}.${timestamp}.${body}`);
  const signatures = await Promise.all(secrets.map(async (secret) => {
    const mac = await crypto.subtle.sign(
      "HMAC",
      await hmacKey(secret),
      content,
    );
    return `v1,${encodeBase64(new Uint8Array(mac))}`;
  }));
  return signatures.join(" ");
}
