/**
 * What one timeline event from /sync means for Warden, decided from the event alone (no SDK here):
 * a person's text, a reaction on some event, an encrypted event we cannot read, or nothing.
 *
 * Untrusted: the content (people type it; the homeserver vouches only for `sender`, `room_id`,
 * `event_id` and `type`), so it is parsed with zod and anything unexpected is ignored. Dropped:
 * our own events (the seeded reactions and echoes of what we sent come back through /sync), notices
 * (the Matrix convention for bot output: answering them makes bots talk to each other), edits (an
 * edit could turn an old "hello" into a command), and texts over 64 KiB.
 */
import { z } from "zod";

export type Inbound =
  | {
      readonly kind: "text";
      readonly text: string;
      /** The event this one replies to, if any (a reply to us counts as a mention). */
      readonly replyTo?: string;
      /** People this event mentions intentionally (`m.mentions.user_ids`). */
      readonly mentions: readonly string[];
    }
  | { readonly kind: "reaction"; readonly target: string; readonly key: string }
  | { readonly kind: "encrypted" }
  | { readonly kind: "ignored"; readonly why: IgnoredWhy };

export type IgnoredWhy = "own" | "type" | "shape" | "notice" | "edit" | "too_long";

const MAX_TEXT = 65_536;
const MXID = z.string().regex(/^@[^\s:]+:\S+$/);

const Message = z.object({
  msgtype: z.string(),
  body: z.string(),
  "m.relates_to": z
    .object({
      rel_type: z.string().optional(),
      "m.in_reply_to": z.object({ event_id: z.string() }).optional(),
    })
    .optional(),
  "m.mentions": z.object({ user_ids: z.array(z.unknown()).optional() }).optional(),
});

const Reaction = z.object({
  "m.relates_to": z.object({
    rel_type: z.literal("m.annotation"),
    event_id: z.string().min(1).max(255),
    key: z.string().min(1).max(64),
  }),
});

/** One event, as `sender` (vouched for by the homeserver) sent it; `me` is the bot's user id. */
export function classify(ev: { type: string; sender: string; content: unknown }, me: string): Inbound {
  if (ev.sender === me) return { kind: "ignored", why: "own" };
  if (ev.type === "m.room.encrypted") return { kind: "encrypted" };
  if (ev.type === "m.reaction") {
    const r = Reaction.safeParse(ev.content);
    if (!r.success) return { kind: "ignored", why: "shape" };
    const rel = r.data["m.relates_to"];
    return { kind: "reaction", target: rel.event_id, key: rel.key };
  }
  if (ev.type !== "m.room.message") return { kind: "ignored", why: "type" };
  const m = Message.safeParse(ev.content);
  if (!m.success) return { kind: "ignored", why: "shape" };
  const c = m.data;
  if (c.msgtype === "m.notice") return { kind: "ignored", why: "notice" };
  if (c.msgtype !== "m.text" && c.msgtype !== "m.emote") return { kind: "ignored", why: "type" };
  if (c["m.relates_to"]?.rel_type === "m.replace") return { kind: "ignored", why: "edit" };
  if (c.body.length > MAX_TEXT) return { kind: "ignored", why: "too_long" };
  const replyTo = c["m.relates_to"]?.["m.in_reply_to"]?.event_id;
  const mentions = (c["m.mentions"]?.user_ids ?? []).filter((u): u is string => MXID.safeParse(u).success);
  const text = replyTo ? stripReplyFallback(c.body) : c.body;
  return { kind: "text", text, mentions, ...(replyTo ? { replyTo } : {}) };
}

/** Older clients quote the replied-to message as `> ` lines first; the person's words follow. */
function stripReplyFallback(body: string): string {
  if (!body.startsWith("> ")) return body;
  const lines = body.split("\n");
  const i = lines.findIndex((l) => !l.startsWith(">"));
  return i < 0 ? body : lines.slice(i).join("\n").replace(/^\n+/, "");
}

/** A Matrix user id (`@name:server`), the platform user id Warden stores after `matrix:`. */
export const isUserId = (s: string): boolean => MXID.safeParse(s).success && s.length <= 255;
/** A room id (`!opaque:server`). */
export const isRoomId = (s: string): boolean => /^![^\s:]+:\S+$/.test(s) && s.length <= 255;

/** "@warden:hs.test: /agent list" or "Warden, /agent list" (Element's pill body) → "/agent list". */
export function withoutMention(text: string, names: readonly string[]): string {
  let t = text;
  for (const n of names) if (t.startsWith(n)) t = t.slice(n.length).replace(/^[:,]?\s*/, "");
  return t
    .split(names[0] as string)
    .join(" ")
    .replace(/ {2,}/g, " ")
    .trim();
}
