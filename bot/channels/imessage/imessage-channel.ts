/**
 * iMessage as a `Channel`, through the user's own BlueBubbles server (bluebubbles.ts). Inbound only
 * by BlueBubbles' `new-message` webhook at `/webhooks/imessage/<token>` (imessage-webhook.ts): every
 * event is confirmed by reading the message back from the server, and only the server's copy is
 * used. Identities `imessage:<handle>` (the sender's phone number or email, as the server reports
 * it). Our own messages are ignored.
 *
 * iMessage has no buttons and (without the Private API) no edits: a card is plain text with a short
 * code (plain-card.ts); a 👍 / 👎 tapback on the card message (`associatedMessageGuid` `p:0/<card>`)
 * approves / denies what it shows (a bare verb, so the bot finds the approval by the card), a removed
 * tapback (`-like`) does nothing, and `approve <code>` replies work as on X. A tapback on any other
 * message is just a reaction. A card's later status is a follow-up message. Untrusted: all text, and
 * every webhook until the server confirmed it.
 */
import type { Log } from "../../../gateway/index.js";
import type { Address, Channel, InboundEvent, SentRef } from "../../channel.js";
import type { WebhookListener } from "../../webhooks/webhook-listener.js";
import { jsonObject } from "../../webhooks/webhook-verifier.js";
import { type CodeStore, parseCodeReply } from "../approval-codes.js";
import { createPlainCardBook, plainAgentTexts } from "../plain-card.js";
import { splitText } from "../text.js";
import type { BbMessage, BlueBubbles } from "./bluebubbles.js";
import { imessageVerifier } from "./imessage-webhook.js";

/** iMessage has no hard limit; long texts are split so a card stays one readable bubble. */
export const IMESSAGE_MAX_TEXT = 4000;

export interface IMessageChannelOptions {
  readonly bb: BlueBubbles;
  readonly listener: WebhookListener;
  /** The unguessable path token of `/webhooks/imessage/<token>`. */
  readonly webhookToken: string;
  readonly log: Log;
  /** Approval codes that outlive a restart (the bot store); default in memory. */
  readonly codeStore?: CodeStore;
  /** Whether a sent message carried an approval card (the bot's records; default: cards sent since start). */
  readonly isCard?: (ref: SentRef) => boolean;
}

/** 👍 and 👎 decide; every other tapback, and a removed one (`-like`), is only a reaction. */
const TAPBACK_VERBS: Record<string, "approve" | "deny"> = {
  like: "approve",
  dislike: "deny",
  "2001": "approve",
  "2002": "deny",
};

/** `p:0/<guid>` (a part of a message) or `bp:<guid>` (older servers): the guid. */
function tapbackTarget(associated: string): string | undefined {
  return /^(?:p:\d+\/|bp:)([A-Za-z0-9:;_+-][A-Za-z0-9:;_+./-]{0,199})$/.exec(associated)?.[1];
}

export function createIMessageChannel(o: IMessageChannelOptions): Channel {
  const platform = "imessage";
  const book = createPlainCardBook({ limit: IMESSAGE_MAX_TEXT, tapbacks: true, codeStore: o.codeStore });
  const sentCards = new Set<string>();
  const isCard = o.isCard ?? ((ref: SentRef) => sentCards.has(`${ref.chatId}\0${ref.messageId}`));
  const verifier = imessageVerifier(o.webhookToken, o.bb);
  let handler: ((event: InboundEvent) => Promise<void>) | undefined;

  const dm = (handle: string) => `iMessage;-;${handle}`;
  async function send(chatGuid: string, text: string): Promise<SentRef> {
    return { platform, chatId: chatGuid, messageId: await o.bb.sendText(chatGuid, text) };
  }

  /** The event for a confirmed message, or undefined when the bot has nothing to do with it. */
  async function eventOf(m: BbMessage): Promise<InboundEvent | undefined> {
    if (m.isFromMe || !m.handle || !m.chatGuid) return undefined;
    const handle = m.handle.includes("@") ? m.handle.toLowerCase() : m.handle;
    const from = { id: `${platform}:${handle}`, name: handle };
    const chat: Address = { platform, chatId: m.chatGuid };
    const reply = async (text: string) => void (await send(dm(handle), text));
    if (m.associatedMessageType !== undefined || m.associatedMessageGuid !== undefined) {
      const verb = TAPBACK_VERBS[m.associatedMessageType ?? ""];
      const target = m.associatedMessageGuid ? tapbackTarget(m.associatedMessageGuid) : undefined;
      if (!verb || !target) return undefined;
      const card: SentRef = { platform, chatId: m.chatGuid, messageId: target };
      if (!isCard(card)) return undefined;
      return { kind: "action", from, chat, data: verb, ref: card, reply };
    }
    const code = parseCodeReply(m.text);
    if (code) {
      const t = await book.lookup(code.code);
      const ref = t?.ref ?? { platform, chatId: m.chatGuid, messageId: m.guid };
      return { kind: "action", from, chat, data: t?.data[code.verb] ?? "", ref, reply };
    }
    const isPrivate = m.chatGuid.includes(";-;");
    return {
      kind: "message",
      from,
      chat,
      isPrivate,
      // Groups: iMessage has no bot mentions; a message starting with "warden" counts as one.
      mentioned: isPrivate || /^\s*@?warden\b/i.test(m.text),
      text: m.text,
      ref: { platform, chatId: m.chatGuid, messageId: m.guid },
    };
  }

  return {
    platform,
    // No edits: a batch card message keeps the items it was sent with; a tapback carries no count.
    gesturesCarryNoCount: true,
    async start(h) {
      await o.bb.info();
      handler = h;
      o.listener.route({
        verifier,
        handle: async (d) => {
          const guid = (jsonObject(d.body)?.data as { guid?: unknown } | undefined)?.guid;
          const m = typeof guid === "string" ? verifier.take(guid) : undefined;
          const event = m ? await eventOf(m) : undefined;
          const current = handler;
          if (event && current)
            await current(event).catch((err: unknown) =>
              o.log("imessage_handler_failed", { error: (err as Error).name }),
            );
          return { status: 200, body: "{}" };
        },
      });
    },
    async stop() {
      handler = undefined;
    },
    async sendText(to, text, opts) {
      const parts = opts?.agent
        ? plainAgentTexts(opts.agent, text, IMESSAGE_MAX_TEXT)
        : splitText(text, IMESSAGE_MAX_TEXT);
      let last: SentRef | undefined;
      for (const p of parts) last = await send(to.chatId, p);
      if (!last) throw new Error("nothing to send");
      return last;
    },
    async sendCard(to, card) {
      const { text, codes } = await book.draw(card);
      const ref = await send(to.chatId, text);
      sentCards.add(`${ref.chatId}\0${ref.messageId}`);
      await book.sent(ref, card, codes);
      return ref;
    },
    async updateCard(ref, card) {
      const text = book.followUp(ref, card);
      if (text) await send(ref.chatId, text);
    },
    privateChat: (userId) => ({ platform, chatId: dm(userId) }),
  };
}
