/**
 * Webex webhooks (`/webhooks/webex`): `X-Spark-Signature` is the hex HMAC-SHA1 of the raw body with
 * the secret we gave when registering the webhook. Only after it matches is the body parsed (zod),
 * and even then only ids are read: a Webex webhook carries ids, never text or button data, and the
 * channel fetches those back from the API (bot/channels/webex/). Untrusted: everything received.
 *
 * Dating: the envelope's top-level `created` is when the *webhook* was registered (constant for
 * every delivery), so the signed event time is `data.created` (when the message or the button press
 * happened). Replay keys: the signature, and the event's own id (`data.id`: the message or the
 * attachment action), never the envelope `id` (that is the webhook's id, the same every time).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { headerOf, jsonObject, refused, type Verdict, type WebhookVerifier } from "./webhook-verifier.js";

const MAX_BODY = 64 * 1024;

/** The two webhook resources the channel registers (and the only ones it acts on). */
export const WEBEX_RESOURCES = ["messages", "attachmentActions"] as const;
export type WebexResource = (typeof WEBEX_RESOURCES)[number];

const Id = z.string().min(1).max(256);
/** What the verifier and the channel read of an envelope; the rest is passed through unread. */
export const WebexEnvelope = z.object({
  resource: z.string().max(64),
  event: z.string().max(64),
  data: z.object({ id: Id, created: z.string().max(64), roomId: Id.optional(), personId: Id.optional() }),
});
export type WebexEnvelope = z.infer<typeof WebexEnvelope>;

/** Whether `given` is the hex HMAC-SHA1 of `body` under `secret` (constant time); its digest if so. */
export function sparkSignatureMatches(
  secret: string,
  body: Buffer,
  given: string | undefined,
): string | undefined {
  if (!given || !/^[0-9a-f]{40}$/i.test(given)) return undefined;
  const want = createHmac("sha1", secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(given, "hex")) ? given.toLowerCase() : undefined;
}

export function webexVerifier(webhookSecret: string): WebhookVerifier {
  return {
    platform: "webex",
    maxBytes: MAX_BODY,
    verify(d): Verdict {
      if (d.method !== "POST") return refused(401, "unsigned");
      const given = headerOf(d.headers, "x-spark-signature");
      if (!given) return refused(401, "unsigned");
      const sig = sparkSignatureMatches(webhookSecret, d.body, given);
      if (!sig) return refused(401, "bad_signature");
      const parsed = WebexEnvelope.safeParse(jsonObject(d.body));
      if (!parsed.success) return refused(400, "malformed");
      const e = parsed.data;
      if (e.event !== "created" || !(WEBEX_RESOURCES as readonly string[]).includes(e.resource))
        return { kind: "ignored" };
      const at = Date.parse(e.data.created);
      if (!Number.isFinite(at)) return refused(400, "malformed");
      return { kind: "verified", replayKeys: [`sig:${sig}`, `${e.resource}:${e.data.id}`], signedAtMs: at };
    },
  };
}
