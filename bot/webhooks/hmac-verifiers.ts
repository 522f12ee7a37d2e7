/**
 * Verifiers for the platforms that sign the raw body with a shared secret: GitHub and WhatsApp
 * Cloud (`x-hub-signature-256: sha256=<hex HMAC-SHA256>`), Linear (`linear-signature: <hex>` with a
 * signed `webhookTimestamp`). The body is parsed only after its signature matched; even then every
 * field is untrusted shape-wise (a platform bug or a secret leak must not crash the listener).
 * Events the bot never acts on are `ignored`: answered, handed to nobody.
 */
import { timingSafeEqual } from "node:crypto";
import {
  headerOf,
  hmacSha256Matches,
  jsonObject,
  refused,
  type Verdict,
  type WebhookVerifier,
} from "./webhook-verifier.js";

const MAX_BODY = 1024 * 1024;

/** The GitHub events the bot reads (the app manifest subscribes to exactly these). */
export const GITHUB_EVENTS = ["issue_comment", "pull_request_review_comment"] as const;
/** The Linear webhook resource types the bot reads. */
export const LINEAR_RESOURCE_TYPES = ["Comment"] as const;

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const idOf = (v: unknown): string | undefined =>
  (typeof v === "string" && v.length > 0 && v.length <= 256) || typeof v === "number" ? String(v) : undefined;

/** GitHub: comment events (issue and pull-request review comments, `created`) are what the bot reads. */
export function githubVerifier(webhookSecret: string): WebhookVerifier {
  return {
    platform: "github",
    maxBytes: MAX_BODY,
    verify(d): Verdict {
      const given = headerOf(d.headers, "x-hub-signature-256");
      if (!given) return refused(401, "unsigned");
      const sig = hmacSha256Matches(webhookSecret, d.body, given, "sha256=");
      if (!sig) return refused(401, "bad_signature");
      const event = headerOf(d.headers, "x-github-event");
      const body = jsonObject(d.body);
      if (!body) return refused(400, "malformed");
      if (!(GITHUB_EVENTS as readonly (string | undefined)[]).includes(event)) return { kind: "ignored" };
      if (body.action !== "created") return { kind: "ignored" };
      const comment = obj(body.comment);
      const id = idOf(comment?.id);
      const at = typeof comment?.created_at === "string" ? Date.parse(comment.created_at) : Number.NaN;
      if (!id || !Number.isFinite(at)) return refused(400, "malformed");
      return { kind: "verified", replayKeys: [`sig:${sig}`, `comment:${id}`], signedAtMs: at };
    },
  };
}

/** Linear: `Comment` `create` events; the signed `webhookTimestamp` (ms) is the event time. */
export function linearVerifier(webhookSecret: string): WebhookVerifier {
  return {
    platform: "linear",
    maxBytes: MAX_BODY,
    verify(d): Verdict {
      const given = headerOf(d.headers, "linear-signature");
      if (!given) return refused(401, "unsigned");
      const sig = hmacSha256Matches(webhookSecret, d.body, given, "");
      if (!sig) return refused(401, "bad_signature");
      const body = jsonObject(d.body);
      if (!body) return refused(400, "malformed");
      if (!(LINEAR_RESOURCE_TYPES as readonly unknown[]).includes(body.type) || body.action !== "create")
        return { kind: "ignored" };
      const id = idOf(obj(body.data)?.id);
      const at = body.webhookTimestamp;
      if (!id || typeof at !== "number" || !Number.isFinite(at)) return refused(400, "malformed");
      const keys = [`sig:${sig}`, `comment:${id}`];
      const hook = idOf(body.webhookId);
      return {
        kind: "verified",
        replayKeys: hook ? [...keys, `delivery:${hook}:${at}`] : keys,
        signedAtMs: at,
      };
    },
  };
}

/**
 * WhatsApp Cloud: the GET subscription challenge (answered only for our verify token), and POSTs
 * whose `messages` are what the bot reads; delivery receipts (`statuses`) are ignored. The oldest
 * message's signed `timestamp` (seconds) dates the delivery.
 */
export function whatsappCloudVerifier(appSecret: string, verifyToken: string): WebhookVerifier {
  return {
    platform: "wacloud",
    maxBytes: MAX_BODY,
    head(h): Verdict | undefined {
      if (h.method !== "GET") return undefined;
      const token = Buffer.from(h.query.get("hub.verify_token") ?? "");
      const want = Buffer.from(verifyToken);
      const challenge = h.query.get("hub.challenge") ?? "";
      if (
        h.query.get("hub.mode") !== "subscribe" ||
        token.length !== want.length ||
        !timingSafeEqual(token, want)
      )
        return refused(401, "bad_signature");
      // Echo only what Meta sends (digits), never arbitrary text into our origin's response.
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(challenge)) return refused(400, "malformed");
      return { kind: "answer", status: 200, body: challenge };
    },
    verify(d): Verdict {
      const given = headerOf(d.headers, "x-hub-signature-256");
      if (!given) return refused(401, "unsigned");
      const sig = hmacSha256Matches(appSecret, d.body, given, "sha256=");
      if (!sig) return refused(401, "bad_signature");
      const body = jsonObject(d.body);
      if (!body) return refused(400, "malformed");
      const messages = arr(body.entry)
        .flatMap((e) => arr(obj(e)?.changes))
        .flatMap((c) => arr(obj(obj(c)?.value)?.messages))
        .map(obj);
      if (messages.length === 0) return { kind: "ignored" };
      const keys = [`sig:${sig}`];
      let oldest = Number.POSITIVE_INFINITY;
      for (const m of messages) {
        const id = idOf(m?.id);
        const at = Number(m?.timestamp) * 1000;
        if (!id || !Number.isFinite(at) || at <= 0) return refused(400, "malformed");
        keys.push(`message:${id}`);
        oldest = Math.min(oldest, at);
      }
      return { kind: "verified", replayKeys: keys, signedAtMs: oldest };
    },
  };
}
