/**
 * WhatsApp addresses (jids), how Warden names people and messages with them, and the message
 * shapes the channel reads. No baileys import
 * at runtime here: baileys is an optional dependency, and the channel must load (and be tested)
 * without opening anything. The parsing mirrors baileys' `jidDecode` / `jidNormalizedUser` /
 * `areJidsSameUser` (test/bot/whatsapp.test.ts checks that they agree).
 *
 * Identity. A person is `whatsapp:<phone digits>` when WhatsApp tells us their phone-number jid,
 * either as the address itself or as the `remoteJidAlt` / `participantAlt` that baileys 7 copies
 * from the server's stanza (the server vouches for it, not the sender). Some senders (LID-addressed
 * groups with hidden numbers) come with a LID only; they become `whatsapp:lid:<digits>`, a separate
 * namespace, so a LID's digits can never pass for a phone number someone holds a role under. An
 * owner can still give that id a role or link it; `privateChat("lid:<digits>")` reaches it.
 */
import type { WAMessage, WAMessageKey } from "baileys";

export const PN_SERVER = "s.whatsapp.net";
export const LID_SERVER = "lid";
export const GROUP_SERVER = "g.us";

export interface Jid {
  readonly user: string;
  readonly server: string;
}

/** `447700900123:5@s.whatsapp.net` → {user: "447700900123", server: "s.whatsapp.net"}. */
export function parseJid(jid: string | null | undefined): Jid | undefined {
  if (typeof jid !== "string" || jid.length > 200) return undefined;
  const at = jid.indexOf("@");
  if (at <= 0) return undefined;
  const user = (jid.slice(0, at).split(":")[0] ?? "").split("_")[0] ?? "";
  const server = jid.slice(at + 1);
  return user === "" ? undefined : { user, server };
}

/** A person's jid (phone number or LID), device suffix dropped; undefined for anything else. */
export function personJid(jid: string | null | undefined): string | undefined {
  const j = parseJid(jid);
  if (!j || !/^\d{1,32}$/.test(j.user)) return undefined;
  return j.server === PN_SERVER || j.server === LID_SERVER ? `${j.user}@${j.server}` : undefined;
}

export const isPnJid = (jid: string | undefined): boolean => jid?.endsWith(`@${PN_SERVER}`) === true;
export const isGroupJid = (jid: string | null | undefined): boolean =>
  typeof jid === "string" && /^[0-9]{1,40}(-[0-9]{1,20})?@g\.us$/.test(jid);

/** Same account, ignoring devices: `447…:5@s.whatsapp.net` is `447…@s.whatsapp.net`. */
export function sameUser(a: string | null | undefined, b: string | null | undefined): boolean {
  const x = parseJid(a);
  const y = parseJid(b);
  return !!x && !!y && x.user === y.user && x.server === y.server;
}

/** Chats we may send to: a person or a group. Never status@broadcast, newsletters or bots. */
export function isSendableJid(jid: string): boolean {
  return isGroupJid(jid) || personJid(jid) === jid;
}

/**
 * Who someone is, from a jid and the phone-number alternative baileys gives for it: the Warden user
 * id (without "whatsapp:") and the private chat that reaches them.
 */
export function identify(
  jid: string | null | undefined,
  alt: string | null | undefined,
): { userId: string; dm: string } | undefined {
  const main = personJid(jid);
  const other = personJid(alt);
  const pn = [main, other].find((j) => isPnJid(j));
  if (pn) return { userId: pn.split("@")[0] as string, dm: pn };
  const lid = [main, other].find((j) => j?.endsWith(`@${LID_SERVER}`));
  return lid ? { userId: `lid:${lid.split("@")[0]}`, dm: lid } : undefined;
}

/** The private chat for a Warden user id: `447700900123` or `lid:1234`; anything else throws. */
export function dmOfUserId(userId: string): string {
  if (/^\d{1,32}$/.test(userId)) return `${userId}@${PN_SERVER}`;
  const lid = /^lid:(\d{1,32})$/.exec(userId);
  if (lid) return `${lid[1]}@${LID_SERVER}`;
  throw new Error(
    `WhatsApp user ids are phone numbers in digits only (or lid:<digits>), not "${userId.slice(0, 40)}"`,
  );
}

/**
 * Message ids in a SentRef. Our own messages: the key id alone (fromMe, rebuildable from the chat and
 * our jid). Other people's messages: `<key id>/<author jid>`, because deleting one in a group (as
 * admin) needs its author as the group addresses them. Key ids are short [A-Za-z0-9]; anything else
 * in a ref is refused rather than sent to WhatsApp.
 */
export function messageIdOf(key: WAMessageKey): string {
  const id = key.id ?? "";
  return key.fromMe ? id : `${id}/${key.participant || key.remoteJid || ""}`;
}

export function keyOfRef(
  chatId: string,
  messageId: string,
  me: string | undefined,
): WAMessageKey & { id: string; remoteJid: string } {
  const [id = "", author, extra] = messageId.split("/");
  if (!/^[A-Za-z0-9]{1,64}$/.test(id) || extra !== undefined || !isSendableJid(chatId))
    throw new Error("WhatsApp: not a message reference this channel made");
  const group = isGroupJid(chatId);
  if (author === undefined)
    return { remoteJid: chatId, id, fromMe: true, ...(group && me ? { participant: me } : {}) };
  if (!personJid(author)) throw new Error("WhatsApp: not a message reference this channel made");
  return { remoteJid: chatId, id, fromMe: false, ...(group ? { participant: author } : {}) };
}

const MEMORY = 5000;

/** Bounded memory (cards, our message ids): the newest `MEMORY` entries are kept. */
export function remember<V>(map: Map<string, V>, k: string, v: V): void {
  map.delete(k);
  map.set(k, v);
  if (map.size > MEMORY) map.delete(map.keys().next().value as string);
}

/** Unwraps the envelopes WhatsApp puts around content (disappearing messages, view-once). */
export function contentOf(m: WAMessage): NonNullable<WAMessage["message"]> | undefined {
  let c = m.message ?? undefined;
  for (let i = 0; i < 4 && c; i++) {
    const inner = c.ephemeralMessage?.message ?? c.viewOnceMessage?.message ?? c.viewOnceMessageV2?.message;
    if (!inner) break;
    c = inner;
  }
  return c;
}
