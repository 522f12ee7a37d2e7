/**
 * X's Account Activity webhook at `/webhooks/x` on the shared listener (bot/webhooks/). A GET with
 * `crc_token` is the challenge: answered `{"response_token":"sha256=<base64 HMAC-SHA256(consumer
 * secret, crc_token)>"}`. A POST is accepted only when `x-twitter-webhooks-signature` is `sha256=` +
 * base64 HMAC-SHA256(consumer secret, raw body); its DM events' ids are the replay keys and their
 * `created_timestamp` the signed time (older than 5 minutes: refused by the listener).
 *
 * Untrusted: all of it until the signature matches, and the shape even after (zod). The CRC answer is
 * an HMAC oracle over whatever token is sent: the token is limited to characters a JSON body cannot
 * start with (no `{`, no whitespace), so nobody can have us sign a body they then POST.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import {
  headerOf,
  jsonObject,
  refused,
  type Verdict,
  type WebhookVerifier,
} from "../../webhooks/webhook-verifier.js";

const MAX_BODY = 1024 * 1024;
const CRC_TOKEN = /^[A-Za-z0-9_=+/-]{1,256}$/;

const Id = z.string().regex(/^[0-9]{1,25}$/);
/** The DM part of an Account Activity delivery (v1.1 shapes). */
export const AccountActivity = z.object({
  for_user_id: Id,
  direct_message_events: z
    .array(
      z.object({
        type: z.string(),
        id: Id,
        created_timestamp: z.string().regex(/^[0-9]{1,16}$/),
        message_create: z
          .object({
            sender_id: Id,
            target: z.object({ recipient_id: Id }),
            message_data: z.object({ text: z.string().max(20_000) }),
          })
          .optional(),
      }),
    )
    .max(100)
    .optional(),
});
export type AccountActivity = z.infer<typeof AccountActivity>;

/** `sha256=` + base64 HMAC-SHA256(secret, data). */
export function xSignature(secret: string, data: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(data).digest("base64")}`;
}

function matches(secret: string, body: Buffer, given: string): boolean {
  if (!/^sha256=[A-Za-z0-9+/]{43}=$/.test(given)) return false;
  const want = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(given.slice(7), "base64"));
}

/** The verifier for `/webhooks/x`, keyed by the app's consumer secret. */
export function xVerifier(consumerSecret: string): WebhookVerifier {
  return {
    platform: "x",
    maxBytes: MAX_BODY,
    head(h): Verdict | undefined {
      if (h.method !== "GET") return undefined;
      const token = h.query.get("crc_token") ?? "";
      if (!CRC_TOKEN.test(token)) return refused(400, "malformed");
      return {
        kind: "answer",
        status: 200,
        contentType: "application/json",
        body: JSON.stringify({ response_token: xSignature(consumerSecret, token) }),
      };
    },
    verify(d): Verdict {
      const given = headerOf(d.headers, "x-twitter-webhooks-signature");
      if (!given) return refused(401, "unsigned");
      if (!matches(consumerSecret, d.body, given)) return refused(401, "bad_signature");
      const raw = jsonObject(d.body);
      const body = raw && AccountActivity.safeParse(raw);
      if (!body?.success) return refused(400, "malformed");
      const dms = (body.data.direct_message_events ?? []).filter((e) => e.type === "message_create");
      // Follows, likes, typing and read receipts: signed, but nothing the bot acts on.
      if (dms.length === 0) return { kind: "ignored" };
      const oldest = Math.min(...dms.map((e) => Number(e.created_timestamp)));
      return {
        kind: "verified",
        replayKeys: [`sig:${given}`, ...dms.map((e) => `event:${e.id}`)],
        signedAtMs: oldest,
      };
    },
  };
}
