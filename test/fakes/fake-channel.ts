/**
 * An in-memory `Channel` that really works: it records everything the bot sent, updated and deleted,
 * and lets tests inject messages and button taps as the platform would deliver them. Held to the same
 * contract as the real channels (test/contracts/channel.contract.ts).
 */
import type { Address, Card, Channel, InboundEvent, InboundMessage, SentRef } from "../../bot/channel.js";

export interface FakeChannelOptions {
  readonly platform?: string;
  /** Messages longer than this are split, like a real platform's limit. */
  readonly maxTextLength?: number;
  /** False: no `deleteMessage` (platforms that cannot delete). */
  readonly canDelete?: boolean;
  /** Makes every send to these chat ids fail (an unreachable person). */
  readonly unreachable?: readonly string[];
}

export interface SentItem {
  readonly to: Address;
  readonly ref: SentRef;
  readonly text?: string;
  readonly card?: Card;
  /** Set when the text is an agent's words (`sendText(…, { agent })`). */
  readonly agent?: string;
}

export interface MessageInput {
  readonly from: string;
  readonly text: string;
  readonly name?: string;
  /** Default: the sender's private chat. */
  readonly chatId?: string;
  readonly isPrivate?: boolean;
  readonly mentioned?: boolean;
  /** A slash command: the platform never posted the text. */
  readonly unposted?: boolean;
  /** User ids the message @-mentions, as the platform resolved them. */
  readonly mentions?: readonly string[];
}

/** Creates a fake channel; `channel` is what the bot gets, the rest is for the test. */
export function createFakeChannel(opts: FakeChannelOptions = {}) {
  const platform = opts.platform ?? "fake";
  const max = opts.maxTextLength ?? 4096;
  const sent: SentItem[] = [];
  const updates: { ref: SentRef; card: Card }[] = [];
  const deleted: SentRef[] = [];
  const typing: Address[] = [];
  const cards = new Map<string, Card>();
  let handler: ((e: InboundEvent) => Promise<void>) | undefined;
  let nextId = 1;
  const refKey = (r: SentRef): string => `${r.chatId}/${r.messageId}`;

  function record(to: Address, item: { text?: string; card?: Card; agent?: string }): SentRef {
    if (opts.unreachable?.includes(to.chatId)) throw new Error("chat not found");
    const ref: SentRef = { platform, chatId: to.chatId, messageId: String(nextId++) };
    sent.push({ to, ref, ...item });
    if (item.card) cards.set(refKey(ref), item.card);
    return ref;
  }

  const channel: Channel = {
    platform,
    async start(h) {
      handler = h;
    },
    async stop() {
      handler = undefined;
    },
    async sendText(to, text, o) {
      let ref: SentRef | undefined;
      const voice = o?.agent === undefined ? {} : { agent: o.agent };
      for (let i = 0; i < Math.max(text.length, 1); i += max)
        ref = record(to, { text: text.slice(i, i + max), ...voice });
      return ref as SentRef;
    },
    async sendCard(to, card) {
      return record(to, { card });
    },
    async updateCard(ref, card) {
      if (!cards.has(refKey(ref))) throw new Error("message not found");
      cards.set(refKey(ref), card);
      updates.push({ ref, card });
    },
    privateChat: (userId) => ({ platform, chatId: userId }),
    async typing(to: Address) {
      typing.push(to);
    },
    ...(opts.canDelete === false
      ? {}
      : {
          async deleteMessage(ref: SentRef) {
            deleted.push(ref);
          },
        }),
  };

  async function deliver(e: InboundEvent): Promise<void> {
    if (!handler) throw new Error("channel not started");
    await handler(e);
  }

  return {
    channel,
    sent,
    updates,
    deleted,
    /** Chats shown "typing…", in order. */
    typing,
    /** Texts received in one chat, oldest first. */
    textsIn: (chatId: string): string[] =>
      sent.filter((s) => s.to.chatId === chatId && s.text !== undefined).map((s) => s.text as string),
    /** Cards sent to one chat, with their current (possibly updated) content. */
    cardsIn: (chatId: string): { ref: SentRef; card: Card }[] =>
      sent
        .filter((s) => s.to.chatId === chatId && s.card)
        .map((s) => ({ ref: s.ref, card: cards.get(refKey(s.ref)) as Card })),
    currentCard: (ref: SentRef): Card | undefined => cards.get(refKey(ref)),
    /** Delivers a text message as the platform would; resolves once the bot handled it. */
    async message(m: MessageInput): Promise<InboundMessage> {
      const msg: InboundMessage = {
        kind: "message",
        from: { id: `${platform}:${m.from}`, name: m.name ?? `user ${m.from}` },
        chat: { platform, chatId: m.chatId ?? m.from },
        isPrivate: m.isPrivate ?? m.chatId === undefined,
        mentioned: m.mentioned ?? false,
        text: m.text,
        ref: { platform, chatId: m.chatId ?? m.from, messageId: String(nextId++) },
        ...(m.unposted ? { unposted: true } : {}),
        ...(m.mentions ? { mentions: m.mentions } : {}),
      };
      await deliver(msg);
      return msg;
    },
    /** Delivers a button tap; resolves with what the bot told the tapper. */
    async tap(t: { from: string; ref: SentRef; data: string; name?: string }): Promise<string[]> {
      const replies: string[] = [];
      await deliver({
        kind: "action",
        from: { id: `${platform}:${t.from}`, name: t.name ?? `user ${t.from}` },
        chat: { platform, chatId: t.ref.chatId },
        data: t.data,
        ref: t.ref,
        reply: async (text) => void replies.push(text),
      });
      return replies;
    },
  };
}

export type FakeChannel = ReturnType<typeof createFakeChannel>;
