/**
 * The per-platform verifier seam of the shared webhook listener (bot/webhooks/webhook-listener.ts).
 * Each webhook platform (Teams, Google Chat, GitHub, Linear, WhatsApp Cloud; issue #12 adds more)
 * supplies one: it checks the platform's signature on the raw bytes and names what makes a delivery
 * unique (replay keys) and when it was signed. Everything it is given is untrusted: headers, query
 * and body come from whoever reached the listener's port.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/** What arrived, before anything has looked at the body. */
export interface WebhookHead {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly query: URLSearchParams;
  /** The path segment after `/webhooks/<platform>/`, on routes that take one (`pathToken`). */
  readonly pathToken?: string;
}

/** What arrived, with the raw body bytes (never re-serialised: signatures cover these bytes). */
export interface WebhookDelivery extends WebhookHead {
  readonly body: Buffer;
}

/**
 * A verifier's judgement.
 * - `verified`: signed by the platform. `replayKeys` are what a replay would repeat (the platform's
 *   event ids, the signature where it covers the body); `signedAtMs` is the signed event time (age
 *   checked by the listener), `expiresAtMs` a signed token's expiry (JWT platforms).
 * - `ignored`: signed, but an event the bot never acts on (a GitHub ping, a WhatsApp delivery
 *   receipt): answered 200 and handed to nobody.
 * - `answer`: the verifier answers itself (WhatsApp's subscription challenge).
 * - `refused`: 401 unsigned or wrongly signed, 400 malformed.
 */
export type Verdict =
  | {
      readonly kind: "verified";
      readonly replayKeys: readonly string[];
      readonly signedAtMs?: number;
      readonly expiresAtMs?: number;
    }
  | { readonly kind: "ignored" }
  | { readonly kind: "answer"; readonly status: number; readonly body: string; readonly contentType?: string }
  | { readonly kind: "refused"; readonly status: 400 | 401; readonly reason: RefusalReason };

export type RefusalReason = "unsigned" | "bad_signature" | "malformed" | "wrong_audience" | "stale";

export interface WebhookVerifier {
  /** The path segment: `/webhooks/<platform>`. */
  readonly platform: string;
  /** Largest body accepted (413 above it, read no further). */
  readonly maxBytes: number;
  /**
   * True for an unsigned platform (BlueBubbles) reached only at `/webhooks/<platform>/<token>`: the
   * verifier's head check compares the token. Other routes with a second segment, and this one
   * without, are 404.
   */
  readonly pathToken?: boolean;
  /**
   * Optional check of the head alone, before a byte of the body is read (JWT platforms carry the
   * signature in a header): a refusal here means the body is never read.
   */
  head?(h: WebhookHead): Promise<Verdict | undefined> | Verdict | undefined;
  verify(d: WebhookDelivery): Promise<Verdict> | Verdict;
}

export const refused = (status: 400 | 401, reason: RefusalReason): Verdict => ({
  kind: "refused",
  status,
  reason,
});

/** One header's value; a repeated header is refused (which copy would the platform have meant?). */
export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return typeof v === "string" ? v : undefined;
}

/**
 * Checks `sha256=<hex>` (GitHub, Meta) or bare hex (Linear) against HMAC-SHA256(secret, body) in
 * constant time. Returns the hex digest when it matches, for use as a replay key.
 */
export function hmacSha256Matches(
  secret: string,
  body: Buffer,
  given: string | undefined,
  prefix: "sha256=" | "",
): string | undefined {
  if (!given?.startsWith(prefix)) return undefined;
  const hex = given.slice(prefix.length);
  if (!/^[0-9a-f]{64}$/i.test(hex)) return undefined;
  const want = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(hex, "hex")) ? hex.toLowerCase() : undefined;
}

/** Parses a JSON body that a verifier already authenticated; undefined if it is not a JSON object. */
export function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
