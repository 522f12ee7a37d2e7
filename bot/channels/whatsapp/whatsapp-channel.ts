/**
 * WhatsApp channel (WhatsApp Web via baileys) behind the `Channel` seam. It depends only on the
 * small `WhatsAppSocket` seam (socket.ts); connect.ts makes the real one.
 *
 * Threat model. The WhatsApp server vouches for a message's chat, its author (and the phone number
 * behind a LID, `remoteJidAlt` / `participantAlt`) and our own account; everything else (text,
 * push names, mentions, quoted ids, reaction emoji) is typed by people and untrusted. So: only
 * `notify` upserts count (history sync and messages queued while offline are not commands), and
 * our own echoes, status broadcasts, newsletters, bots, system and protocol messages (including
 * edits, which could turn an old "yes" into something else) are dropped. WhatsApp Web has no
 * buttons: a quoted reply whose whole text is a keyword, or a 👍/👎 reaction, on one of OUR messages
 * becomes a bare-verb action for that message; the bot decides which approval it is and re-checks
 * who may vote. A keyword or reaction on someone else's message is ordinary chat. Answers to a
 * gesture go to the person's private chat, never the group. Cards put untrusted values in
 * monospace so WhatsApp formatting cannot forge status lines (card-text.ts). Links are never
 * previewed (baileys would otherwise fetch URLs an agent chose). Logs never carry message text.
 * Handlers run detached so a slow handler (one waiting for an approval) cannot stall delivery of
 * the reaction it waits for; sends to one chat are spaced, and retried once when rate-limited.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { WAMessage, WAMessageKey } from "baileys";
import type { Address, Channel, InboundEvent, SendTextOptions, SentRef } from "../../channel.js";
import { oneLine, splitText } from "../text.js";
import { agentTexts } from "./agent-text.js";
import {
  decidedText,
  offeredVerbs,
  renderWhatsAppCard,
  type Verb,
  verbOfReaction,
  verbOfReply,
} from "./card-text.js";
import {
  contentOf,
  dmOfUserId,
  identify,
  isGroupJid,
  isSendableJid,
  keyOfRef,
  messageIdOf,
  personJid,
  remember,
  sameUser,
} from "./jid.js";
import { createOutbox } from "./outbox.js";
import { createReachability } from "./reachable.js";
import type { WhatsAppConnect, WhatsAppSocket } from "./socket.js";
import { type Sleep, superviseConnection } from "./supervisor.js";

export interface WhatsAppChannelOptions {
  /** Builds a fresh socket; called on start and for every reconnect. */
  readonly connect: WhatsAppConnect;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Waits (reconnect backoff, send spacing); tests pass one that returns at once. */
  readonly sleep?: Sleep;
  readonly random?: () => number;
  readonly now?: () => number;
  /** Minimum gap between two messages to one chat; default 250 ms. */
  readonly sendGapMs?: number;
  /** Wait before the one retry of a rate-limited send; default 3 s. */
  readonly rateLimitRetryMs?: number;
  /** Cards older than this are not edited (WhatsApp allows ~15 min); default 14 min. */
  readonly editWindowMs?: number;
  /**
   * Whether our message `ref` carried an approval card, from the bot's records (which survive a
   * restart). Only a reply or reaction to a card is an approval gesture; "yes" to any other message
   * of ours is conversation. Default: the cards this channel sent since it started.
   */
  readonly isCard?: (ref: SentRef) => boolean;
}

export const TEXT_LIMIT = 4096;
const HISTORY_SKEW_MS = 5 * 60_000;
const MAX_INBOUND_TEXT = 65_536;
const MAX_ANSWERS_PER_CARD = 3;

interface CardMemory {
  readonly chatId: string;
  readonly key: WAMessageKey;
  readonly sentAt: number;
  offered: Verb[];
  followedUp?: boolean;
}

export function createWhatsAppChannel(options: WhatsAppChannelOptions): Channel {
  const log = options.log ?? (() => undefined);
  const sleep: Sleep = options.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
  const now = options.now ?? Date.now;
  const editWindow = options.editWindowMs ?? 14 * 60_000;
  const cards = new Map<string, CardMemory>();
  const answersSent = new Map<string, number>();
  const sentIds = new Map<string, string>(); // our message id → chat
  let handler: ((event: InboundEvent) => Promise<void>) | undefined;

  const sup = superviseConnection({
    connect: options.connect,
    attach,
    sleep,
    random: options.random ?? Math.random,
    now,
    log,
  });
  const { send } = createOutbox({
    socket: sup.current,
    sleep,
    gapMs: options.sendGapMs ?? 250,
    retryMs: options.rateLimitRetryMs ?? 3000,
    log,
  });
  const reachable = createReachability(sup.current);
  const isCardMessage = (chatId: string, id: string): boolean =>
    cards.has(id) || options.isCard?.({ platform: "whatsapp", chatId, messageId: id }) === true;
  const me = () => sup.current()?.user;
  const isMe = (jid: string | null | undefined) => sameUser(jid, me()?.id) || sameUser(jid, me()?.lid);

  function attach(sock: WhatsAppSocket): () => void {
    const onUpsert = (u: { messages: WAMessage[]; type: string }) => {
      if (u.type !== "notify" || sock !== sup.current()) return;
      for (const m of u.messages) {
        try {
          inbound(m);
        } catch (err) {
          log("whatsapp.inbound_error", { error: (err as Error).name });
        }
      }
    };
    sock.ev.on("messages.upsert", onUpsert);
    return () => sock.ev.off?.("messages.upsert", onUpsert);
  }

  function dispatch(what: string, work: (h: (e: InboundEvent) => Promise<void>) => Promise<void>): void {
    const h = handler;
    if (!h) return;
    work(h).catch((err: unknown) => log("whatsapp.handler_error", { what, error: (err as Error).name }));
  }

  function inbound(m: WAMessage): void {
    const key = m.key;
    if (!handler || !key?.id || key.fromMe || m.messageStubType) return;
    const group = isGroupJid(key.remoteJid);
    if (!group && !personJid(key.remoteJid)) return; // status@broadcast, newsletters, bots, …
    const ts = Number(m.messageTimestamp ?? 0) * 1000;
    if (ts > 0 && ts < sup.openedAt() - HISTORY_SKEW_MS) return;
    const who = group
      ? identify(key.participant, key.participantAlt)
      : identify(key.remoteJid, key.remoteJidAlt);
    const c = contentOf(m);
    if (!who || !c || c.protocolMessage) return;
    const chatId = group ? (key.remoteJid as string) : who.dm;
    const from = { id: `whatsapp:${who.userId}`, name: oneLine(m.pushName ?? "", 64) || who.userId };
    const chat: Address = { platform: "whatsapp", chatId };

    if (c.reactionMessage) {
      const target = c.reactionMessage.key;
      const verb = verbOfReaction(c.reactionMessage.text); // empty text: a reaction removed
      const ours = target?.id && (target.fromMe === true || sentIds.get(target.id) === chatId);
      if (verb && ours && isCardMessage(chatId, target.id as string))
        action(from, chat, who.dm, target.id as string, verb);
      return; // a reaction to anything else is just a reaction
    }
    const text = c.conversation ?? c.extendedTextMessage?.text;
    if (typeof text !== "string" || text.trim() === "" || text.length > MAX_INBOUND_TEXT) return;
    const ctx = c.extendedTextMessage?.contextInfo;
    // A quote of a message in another chat (contextInfo.remoteJid) is never a gesture here.
    const quoted =
      ctx?.remoteJid && ctx.remoteJid !== key.remoteJid ? undefined : (ctx?.stanzaId ?? undefined);
    const quotesUs = !!quoted && (sentIds.get(quoted) === chatId || isMe(ctx?.participant));
    const verb = quotesUs && isCardMessage(chatId, quoted) ? verbOfReply(text) : undefined;
    if (quoted && verb) {
      action(from, chat, who.dm, quoted, verb);
      return;
    }

    const mentionsUs = (ctx?.mentionedJid ?? []).some(isMe);
    const mine = [me()?.id, me()?.lid].map((j) => j?.split(/[:@]/)[0]).filter((u): u is string => !!u);
    const body = mentionsUs
      ? mine
          .reduce((t, u) => t.split(`@${u}`).join(" "), text)
          .replace(/ {2,}/g, " ")
          .trim()
      : text;
    const ref: SentRef = { platform: "whatsapp", chatId, messageId: messageIdOf(key) };
    // Mentioned people as WhatsApp resolved them: a phone number, or `lid:` when it hides the number.
    const mentions = (ctx?.mentionedJid ?? [])
      .filter((j) => !isMe(j))
      .map((j) => identify(j, undefined)?.userId)
      .filter((u): u is string => !!u)
      .slice(0, 50);
    const event = {
      kind: "message",
      from,
      chat,
      isPrivate: !group,
      mentioned: mentionsUs || quotesUs,
      text: body,
      ref,
      ...(mentions.length > 0 ? { mentions } : {}),
    } as const;
    dispatch("message", (h) => h(event));
  }

  /** A gesture on our message `target`; the answer goes to the tapper's private chat. */
  function action(
    from: { id: string; name: string },
    chat: Address,
    dm: string,
    target: string,
    verb: Verb,
  ): void {
    let answered = false;
    // Private answers are capped per person and card: someone reacting over and over in a group
    // must not make us send a stream of messages (WhatsApp bans accounts that look like spam).
    const answerKey = `${from.id}/${target}`;
    const reply = async (text: string): Promise<void> => {
      answered = true;
      const n = answersSent.get(answerKey) ?? 0;
      if (n >= MAX_ANSWERS_PER_CARD) return log("whatsapp.answer_suppressed", { card: target });
      remember(answersSent, answerKey, n + 1);
      await sendText({ platform: "whatsapp", chatId: dm }, text);
    };
    const card = cards.get(target);
    if (card && card.offered.length > 0 && !card.offered.includes(verb)) {
      dispatch("action", () => reply(`This card has no "${verb}" option.`));
      return;
    }
    const ref: SentRef = { platform: "whatsapp", chatId: chat.chatId, messageId: target };
    dispatch("action", async (h) => {
      try {
        await h({ kind: "action", from, chat, data: verb, ref, reply });
      } catch (err) {
        if (!answered) await reply("Sorry, something went wrong.").catch(() => undefined);
        throw err;
      }
    });
  }

  function target(to: { platform: string; chatId: string }): string {
    if (to.platform !== "whatsapp") throw new Error(`WhatsApp channel cannot send to ${to.platform}`);
    if (!isSendableJid(to.chatId)) throw new Error("WhatsApp: not a person's or group's chat id");
    return to.chatId;
  }

  const refOf = (chatId: string, m: WAMessage): SentRef => {
    remember(sentIds, m.key.id as string, chatId);
    return { platform: "whatsapp", chatId, messageId: m.key.id as string };
  };

  async function sendText(to: Address, text: string, opts?: SendTextOptions): Promise<SentRef> {
    const jid = target(to);
    await reachable.check(jid);
    let last: SentRef | undefined;
    const agent = opts?.agent;
    for (const chunk of agent === undefined
      ? splitText(text, TEXT_LIMIT)
      : agentTexts(agent, text, TEXT_LIMIT))
      last = refOf(jid, await send("sendMessage", jid, { text: chunk, linkPreview: null }));
    if (!last) throw new Error("WhatsApp sendMessage: refusing to send an empty message");
    return last;
  }

  return {
    platform: "whatsapp",
    // A reaction or "approve" reply names no count: batch card messages are frozen (bot/batch-drawer.ts).
    gesturesCarryNoCount: true,
    async start(onEvent) {
      if (handler) throw new Error("WhatsApp channel already started");
      handler = onEvent;
      try {
        await sup.start();
      } catch (err) {
        handler = undefined;
        throw err;
      }
      log("whatsapp.started", { paired: !!me()?.id });
    },
    async stop() {
      handler = undefined;
      await sup.stop();
    },
    sendText,
    async sendCard(to, card) {
      const jid = target(to);
      await reachable.check(jid);
      const m = await send("sendMessage", jid, {
        text: renderWhatsAppCard(card, TEXT_LIMIT),
        linkPreview: null,
      });
      remember(cards, m.key.id as string, {
        chatId: jid,
        key: m.key,
        sentAt: now(),
        offered: offeredVerbs(card),
      });
      return refOf(jid, m);
    },
    async updateCard(ref, card) {
      const jid = target(ref);
      const known = cards.get(ref.messageId);
      const key = known?.chatId === jid ? known.key : keyOfRef(jid, ref.messageId, personJid(me()?.id));
      if (!key.fromMe) throw new Error("WhatsApp: can only update the bot's own cards");
      if (known && card.buttons.length > 0) known.offered = offeredVerbs(card);
      if (known && now() - known.sentAt < editWindow) {
        const text = renderWhatsAppCard(card, TEXT_LIMIT);
        try {
          await send("edit", jid, { text, edit: key, linkPreview: null });
          return;
        } catch (err) {
          log("whatsapp.edit_failed", { error: (err as Error).message });
        }
      }
      // Too old to edit (or the edit failed): say the outcome once, quoting the card.
      if (card.buttons.length > 0 || known?.followedUp)
        return log("whatsapp.card_not_edited", { old: !!known });
      if (known) known.followedUp = true;
      const quoted = { key, message: { conversation: oneLine(card.title, 200) } };
      refOf(jid, await send("sendMessage", jid, { text: decidedText(card), linkPreview: null }, { quoted }));
    },
    privateChat(userId) {
      return { platform: "whatsapp", chatId: dmOfUserId(userId) };
    },
    async typing(to) {
      await sup.current()?.sendPresenceUpdate?.("composing", target(to));
    },
    async deleteMessage(ref) {
      const jid = target(ref);
      const key = keyOfRef(jid, ref.messageId, personJid(me()?.id));
      if (!key.fromMe && !isGroupJid(jid))
        throw new Error("WhatsApp cannot delete someone else's message in a private chat; only they can");
      await send("delete", jid, { delete: key });
    },
  };
}
