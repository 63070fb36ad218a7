// MFA for SSO sessions: TOTP with otpauth (RFC 6238: SHA-1, 6 digits, 30 s,
// +-1 step), recovery codes. This module checks codes; what an attempt earns
// (aal2, a used step, a lockout) is decided in SQL by private.mfa_attempt.
import * as OTPAuth from "otpauth";

const PERIOD = 30;

/** A new secret (160 bits, base32) and the otpauth:// URL an app scans. */
export function newTotp(label: string) {
  const secret = new OTPAuth.Secret({ size: 20 });
  const totp = new OTPAuth.TOTP({
    issuer: "Meridian",
    label,
    secret,
    algorithm: "SHA1",
    digits: 6,
    period: PERIOD,
  });
  return { secret: secret.base32, url: totp.toString() };
}

/** The time step a code matches (now, or one step either side), else null. */
export function matchingStep(
  secretBase32: string,
  code: string,
): number | null {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secretBase32),
    algorithm: "SHA1",
    digits: 6,
    period: PERIOD,
  });
  const delta = totp.validate({ token: code, window: 1 });
  if (delta === null) return null;
  return Math.floor(Date.now() / 1000 / PERIOD) + delta;
}
