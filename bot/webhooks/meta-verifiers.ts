/**
 * Messenger and Instagram webhooks (`/webhooks/messenger`, `/webhooks/instagram`): Meta's GET
 * subscription challenge (answered only for our verify token, compared in constant time) and POSTs
 * signed with `x-hub-signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`. Only after the
 * signature matches is the body parsed (zod). Untrusted: everything received; even a signed body is
 * read defensively (a platform bug or a leaked secret must not crash the listener).
 *
 * What counts: `entry[].messaging[]` events that carry a message or a postback and are not our own
 * echoes. A delivery of nothing else (read receipts, deliveries, echoes) is `ignored`. Replay keys:
 * the signature and every event's `mid`; the signed time is the oldest event's `timestamp` (ms),
 * else the entry's `time`, so a delivery older than 5 minutes is refused (400) by the listener.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  headerOf,
  hmacSha256Matches,
  jsonObject,
  refused,
  type Verdict,
  type WebhookHead,
  type WebhookVerifier,
} from "./webhook-verifier.js";

const MAX_BODY = 256 * 1024;

const Id = z.string().min(1).max(256);
const Mid = z.string().min(1).max(512);
/** One messaging event as the channel reads it. */
export const MetaMessaging = z.object({
  sender: z.object({ id: Id }),
  recipient: z.object({ id: Id }).optional(),
  timestamp: z.number().finite().optional(),
  message: z
    .object({
      mid: Mid,
      text: z.string().max(20_000).optional(),
      is_echo: z.boolean().optional(),
      quick_reply: z.object({ payload: z.string().max(1000) }).optional(),
    })
    .optional(),
  postback: z
    .object({ mid: Mid.optional(), title: z.string().max(200).optional(), payload: z.string().max(1000) })
    .optional(),
});
export type MetaMessaging = z.infer<typeof MetaMessaging>;

export const MetaDelivery = z.object({
  object: z.string().max(32),
  entry: z
    .array(
      z.object({
        id: Id.optional(),
        time: z.number().finite().optional(),
        // Events the channel never reads (reads, deliveries, reactions …) are kept only as unknowns.
        messaging: z.array(z.unknown()).max(1000).optional(),
      }),
    )
    .max(1000),
});

/** The events of a delivery that the bot acts on (message or postback, no echoes), each parsed. */
export function actionableEvents(
  body: z.infer<typeof MetaDelivery>,
): { event: MetaMessaging; time?: number }[] {
  const out: { event: MetaMessaging; time?: number }[] = [];
  for (const e of body.entry)
    for (const raw of e.messaging ?? []) {
      const m = MetaMessaging.safeParse(raw);
      if (!m.success) continue;
      if (m.data.message?.is_echo) continue;
      if (!m.data.message && !m.data.postback) continue;
      out.push({ event: m.data, time: e.time });
    }
  return out;
}

/** Constant time and length-blind: both sides hashed first. */
function sameToken(given: string, want: string): boolean {
  const h = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(given), h(want)) && given === want;
}

function challenge(h: WebhookHead, verifyToken: string): Verdict | undefined {
  if (h.method !== "GET") return undefined;
  const token = h.query.get("hub.verify_token") ?? "";
  if (h.query.get("hub.mode") !== "subscribe" || !sameToken(token, verifyToken))
    return refused(401, "bad_signature");
  const c = h.query.get("hub.challenge") ?? "";
  // Echo only what Meta sends (digits), never arbitrary text into our origin's response.
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(c)) return refused(400, "malformed");
  return { kind: "answer", status: 200, body: c };
}

/** `object` is `page` for Messenger and `instagram` for Instagram; anything else is ignored. */
function metaVerifier(
  platform: "messenger" | "instagram",
  object: "page" | "instagram",
  appSecret: string,
  verifyToken: string,
): WebhookVerifier {
  return {
    platform,
    maxBytes: MAX_BODY,
    head: (h) => challenge(h, verifyToken),
    verify(d): Verdict {
      const given = headerOf(d.headers, "x-hub-signature-256");
      if (!given) return refused(401, "unsigned");
      const sig = hmacSha256Matches(appSecret, d.body, given, "sha256=");
      if (!sig) return refused(401, "bad_signature");
      const parsed = MetaDelivery.safeParse(jsonObject(d.body));
      if (!parsed.success) return refused(400, "malformed");
      if (parsed.data.object !== object) return { kind: "ignored" };
      const events = actionableEvents(parsed.data);
      if (events.length === 0) return { kind: "ignored" };
      const keys = [`sig:${sig}`];
      let oldest = Number.POSITIVE_INFINITY;
      for (const { event, time } of events) {
        const at = event.timestamp ?? time;
        if (at === undefined || at <= 0) return refused(400, "malformed");
        oldest = Math.min(oldest, at);
        const mid = event.message?.mid ?? event.postback?.mid;
        if (mid) keys.push(`mid:${mid}`);
      }
      return { kind: "verified", replayKeys: keys, signedAtMs: oldest };
    },
  };
}

export const messengerVerifier = (appSecret: string, verifyToken: string): WebhookVerifier =>
  metaVerifier("messenger", "page", appSecret, verifyToken);

export const instagramVerifier = (appSecret: string, verifyToken: string): WebhookVerifier =>
  metaVerifier("instagram", "instagram", appSecret, verifyToken);
