/**
 * BlueBubbles webhooks at `/webhooks/imessage/<token>` on the shared listener. BlueBubbles signs
 * nothing, so two things stand in for a signature: the path token (unguessable, compared in constant
 * time, before a byte of the body is read) and the read-back: a `new-message` event names a message
 * guid, and only the message the BlueBubbles server itself returns for that guid is believed (sender,
 * chat, text, tapback target, time). A forged event with a made-up guid is refused (401); one with a
 * real guid but altered fields decides what the real message says, not what the event claimed. The
 * server's `dateCreated` dates the delivery (older than 5 minutes: refused by the listener), the guid
 * is the replay key. Every other event type (updates, receipts, typing) is ignored.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { jsonObject, refused, type Verdict, type WebhookVerifier } from "../../webhooks/webhook-verifier.js";
import { type BbMessage, type BlueBubbles, BlueBubblesError } from "./bluebubbles.js";

const MAX_BODY = 512 * 1024;
/** A token as the path may carry it: at least 32 URL-safe characters. */
export const WEBHOOK_TOKEN = /^[A-Za-z0-9_-]{32,128}$/;

const Event = z.object({
  type: z.string().max(60),
  data: z.object({ guid: z.string().min(1).max(200) }).passthrough(),
});

/**
 * The webhook token: `IMESSAGE_WEBHOOK_TOKEN` when set, else the one in `file`, else a new one
 * written there (0600). `created` says it is new, so the URL to configure is printed once.
 */
export function webhookToken(file: string, configured?: string): { token: string; created: boolean } {
  if (configured !== undefined) {
    if (!WEBHOOK_TOKEN.test(configured))
      throw new Error("IMESSAGE_WEBHOOK_TOKEN must be 32-128 characters of A-Z a-z 0-9 _ -");
    return { token: configured, created: false };
  }
  try {
    const stored = readFileSync(file, "utf8").trim();
    if (WEBHOOK_TOKEN.test(stored)) return { token: stored, created: false };
  } catch {
    // none yet
  }
  const token = randomBytes(32).toString("base64url");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, created: true };
}

export interface ConfirmedMessages {
  /** The server's message for a delivery just verified (taken once). */
  take(guid: string): BbMessage | undefined;
}

/** The verifier, and the messages it confirmed for the route's handler. */
export function imessageVerifier(token: string, bb: BlueBubbles): WebhookVerifier & ConfirmedMessages {
  const want = Buffer.from(token);
  const confirmed = new Map<string, BbMessage>();
  return {
    platform: "imessage",
    maxBytes: MAX_BODY,
    pathToken: true,
    head(h): Verdict | undefined {
      const given = Buffer.from(h.pathToken ?? "");
      if (given.length !== want.length || !timingSafeEqual(given, want)) return refused(401, "bad_signature");
      if (h.method !== "POST") return refused(400, "malformed");
      return undefined;
    },
    async verify(d): Promise<Verdict> {
      const raw = jsonObject(d.body);
      const event = raw && Event.safeParse(raw);
      if (!event?.success) return refused(400, "malformed");
      if (event.data.type !== "new-message") return { kind: "ignored" };
      let real: BbMessage;
      try {
        real = await bb.message(event.data.data.guid);
      } catch (err) {
        // No such message on the user's own server: a forgery, or a guid we cannot vouch for.
        if (err instanceof BlueBubblesError && err.code === "bb_not_found")
          return refused(401, "bad_signature");
        throw err;
      }
      if (confirmed.size > 1000) confirmed.clear();
      confirmed.set(real.guid, real);
      return { kind: "verified", replayKeys: [`message:${real.guid}`], signedAtMs: real.dateCreated };
    },
    take(guid) {
      const m = confirmed.get(guid);
      confirmed.delete(guid);
      return m;
    },
  };
}
