/**
 * The webhook platforms behind Vercel's Chat SDK (`chat` + `@chat-adapter/*`), as `Channel`s: one
 * `Chat` instance holds every configured adapter; each platform is one Channel. Inbound traffic
 * arrives only through the shared webhook listener (bot/webhooks/), which verifies, dates and
 * de-duplicates every delivery before the adapter sees it. Everything the adapters then report (ids,
 * text, button values) is still untrusted people's input. GitHub and Linear have no buttons: cards
 * carry a short approval code and a reply `/approve <code>` is the tap, authorised by the signed
 * sender (approval-codes.ts).
 */

import { createMemoryState } from "@chat-adapter/state-memory";
import { type Adapter, Chat, type Message, type Thread } from "chat";
import type { Log } from "../../../gateway/index.js";
import type { Address, Card, Channel, InboundEvent, SentRef } from "../../channel.js";
import type { WebhookListener } from "../../webhooks/webhook-listener.js";
import type { WebhookVerifier } from "../../webhooks/webhook-verifier.js";
import { type CodeStore, createApprovalCodes, parseCodeReply, verbOfData } from "../approval-codes.js";
import { plainMarkdownParts, renderMarkdownCard } from "../markdown-card.js";
import { splitText } from "../text.js";
import { type ButtonCardLimits, buttonCard, decidedText, TEAMS_CARD, WHATSAPP_CARD } from "./button-card.js";

/** One platform: its adapter (keyed by `platform` in the Chat instance) and its webhook verifier. */
export interface ChatSdkPlatform {
  readonly platform: "github" | "linear" | "teams" | "gchat" | "wacloud";
  readonly adapter: Adapter;
  readonly verifier: WebhookVerifier;
  /** Largest text in one message (the platform's limit, with room to spare). */
  readonly maxText: number;
  /** The thread id of the private chat with `userId`, where the platform has private chats. */
  readonly dm?: (userId: string) => string;
  /** Where a private chat must be created first (Teams): resolves `<platform>:dm:<userId>`. */
  readonly openDm?: (userId: string) => Promise<string>;
  /** Native button cards with these limits (Google Chat; Teams and WhatsApp are built in). */
  readonly card?: ButtonCardLimits;
  /** Plain text as parts that render nothing, where fences do not (Google Chat). */
  readonly textParts?: (text: string) => string[];
  /** The chat id taps will report for a card just sent (`raw`: the platform's answer). */
  readonly cardChatId?: (raw: unknown, chatId: string) => string;
  /** The platform's own rules around the finished Channel (WhatsApp Cloud's 24-hour window). */
  readonly wrap?: (c: Channel, log: Log) => Channel;
}

export interface ChatSdkOptions {
  readonly platforms: readonly ChatSdkPlatform[];
  readonly listener: WebhookListener;
  /** The bot's name on the platforms (mention detection). */
  readonly userName?: string;
  readonly log: Log;
  /** Where GitHub's and Linear's approval codes outlive a restart (the bot's store). */
  readonly codeStore?: (platform: string) => CodeStore | undefined;
}

type Handler = (event: InboundEvent) => Promise<void>;

/**
 * The id a person is known by. Teams: the Entra (AAD) object id from the signed activity, stable
 * across chats and tenants' bots (the `29:` id is per bot); `29:…` only when there is none, which can
 * never equal an object id (a GUID), so it cannot borrow someone's roles.
 */
function userIdOf(platform: string, raw: unknown, fallback: string): string {
  if (platform !== "teams") return fallback;
  const aad = (raw as { from?: { aadObjectId?: unknown } } | undefined)?.from?.aadObjectId;
  return typeof aad === "string" && /^[0-9a-f-]{36}$/i.test(aad) ? aad.toLowerCase() : fallback;
}

/**
 * Teams starts a channel message with the bot's mention (`<at>Warden</at>`, which the adapter turns
 * into `@Warden`): drop it, so `@Warden /agent start demo` is the command it is. Only a mention the
 * signed activity names for this bot (its recipient) is dropped.
 */
function withoutOwnMention(platform: string, raw: unknown, text: string): string {
  if (platform !== "teams") return text;
  type Mention = { type?: unknown; text?: unknown; mentioned?: { id?: unknown } };
  const a = raw as { recipient?: { id?: unknown }; entities?: Mention[] } | undefined;
  for (const e of Array.isArray(a?.entities) ? a.entities : []) {
    if (e?.type !== "mention" || e.mentioned?.id !== a?.recipient?.id || typeof e.text !== "string") continue;
    const tag = `@${e.text.replace(/<\/?at>/gi, "")}`;
    if (text.startsWith(tag)) return text.slice(tag.length).trimStart();
  }
  return text;
}

/**
 * Posts text that may carry anyone's words (the agent's, people's names) so it renders nothing: on
 * the markdown platforms (GitHub, Linear, Teams) inside fences it cannot close, so no @-mention
 * notifies, no link or image renders and no bold "Approved" is forged. Returns the last message id.
 */
async function postText(p: ChatSdkPlatform, threadId: string, text: string): Promise<string> {
  const parts = p.textParts
    ? p.textParts(text)
    : p.platform === "wacloud"
      ? splitText(text, p.maxText)
      : plainMarkdownParts(text, p.maxText);
  let last: string | undefined;
  for (const part of parts) last = (await p.adapter.postMessage(threadId, { raw: part })).id;
  if (last === undefined) throw new Error("nothing to send");
  return last;
}

/** Builds one Channel per platform over a shared Chat instance (started by the first `start`). */
export function createChatSdkChannels(o: ChatSdkOptions): Channel[] {
  const adapters = Object.fromEntries(o.platforms.map((p) => [p.platform, p.adapter]));
  const chat = new Chat({
    userName: o.userName ?? "warden",
    adapters,
    state: createMemoryState(),
    // Every message is handled: a held lock must never drop an approval reply.
    concurrency: "concurrent",
    logger: "silent",
  });
  const handlers = new Map<string, Handler>();
  let started: Promise<void> | undefined;
  const pending = new Set<Promise<unknown>>();

  function deliver(platform: string, event: InboundEvent): Promise<void> {
    const h = handlers.get(platform);
    if (!h) return Promise.resolve();
    return h(event).catch((err: unknown) =>
      o.log("chat_sdk_handler_failed", { platform, error: (err as Error).name }),
    );
  }

  const onMessage = async (thread: Thread, message: Message): Promise<void> => {
    // By instance: an adapter's own name ("whatsapp") need not be our platform's ("wacloud").
    const p = o.platforms.find((x) => x.adapter === thread.adapter);
    const platform = p?.platform ?? "";
    if (!p || message.author.isMe || message.author.isBot === true) return;
    const from = {
      id: `${platform}:${userIdOf(platform, message.raw, message.author.userId)}`,
      name: message.author.fullName || message.author.userName,
    };
    const chatAddr: Address = { platform, chatId: thread.id };
    const ref: SentRef = { platform, chatId: thread.id, messageId: message.id };
    const reply = (text: string) => postText(p, thread.id, text).then(() => undefined);
    const code = parseCodeReply(message.text);
    if (code && (platform === "github" || platform === "linear")) {
      const target = await codes.get(platform)?.lookup(code.code);
      // An unknown code, or a verb the card never offered: the bot answers "not valid".
      await deliver(platform, {
        kind: "action",
        from,
        chat: chatAddr,
        data: target?.data[code.verb] ?? "",
        ref: target?.ref ?? ref,
        reply,
      });
      return;
    }
    await deliver(platform, {
      kind: "message",
      from,
      chat: chatAddr,
      isPrivate: p.adapter.isDM?.(thread.id) ?? false,
      mentioned: message.isMention === true,
      text: withoutOwnMention(platform, message.raw, message.text),
      ref,
    });
  };
  chat.onDirectMessage((thread, message) => onMessage(thread, message));
  chat.onNewMention((thread, message) => onMessage(thread, message));
  chat.onSubscribedMessage((thread, message) => onMessage(thread, message));
  chat.onNewMessage(/[\s\S]*/, (thread, message) => onMessage(thread, message));
  chat.onAction(async (event) => {
    const p = o.platforms.find((x) => x.adapter === event.adapter);
    if (!p) return;
    const platform = p.platform;
    // WhatsApp Cloud reports the reply's id; the card is the message the reply refers to.
    const context = (event.raw as { context?: { id?: unknown } } | undefined)?.context?.id;
    const cardId = platform === "wacloud" ? (typeof context === "string" ? context : "") : event.messageId;
    await deliver(platform, {
      kind: "action",
      from: {
        id: `${platform}:${userIdOf(platform, event.raw, event.user.userId)}`,
        name: event.user.fullName || event.user.userName,
      },
      chat: { platform, chatId: event.threadId },
      data: typeof event.value === "string" ? event.value : "",
      ref: { platform, chatId: event.threadId, messageId: cardId },
      reply: (text) => postText(p, event.threadId, text).then(() => undefined),
    });
  });

  const codes = new Map(o.platforms.map((p) => [p.platform, createApprovalCodes(o.codeStore?.(p.platform))]));
  /** Codes drawn on each card message (`platform\0messageId`), reused when the card is updated. */
  const cardCodes = new Map<string, string[]>();

  async function ensureStarted(): Promise<void> {
    started ??= (async () => {
      await chat.initialize();
      for (const p of o.platforms)
        o.listener.route({
          verifier: p.verifier,
          handle: async (d) => {
            const req = new Request(`http://warden.invalid/webhooks/${p.platform}`, {
              method: d.method,
              headers: Object.entries(d.headers).flatMap(([k, v]) =>
                typeof v === "string" ? [[k, v] as [string, string]] : [],
              ),
              body: d.method === "POST" ? new Uint8Array(d.body) : undefined,
            });
            const res = await p.adapter.handleWebhook(req, {
              waitUntil: (task: Promise<unknown>) => {
                pending.add(task);
                void task.finally(() => pending.delete(task));
              },
            });
            return { status: res.status, body: await res.text() };
          },
        });
    })();
    return started;
  }

  const built = o.platforms.map((p): Channel => {
    const platform = p.platform;
    const markdown = platform === "github" || platform === "linear";
    const limits = p.card ?? (platform === "teams" ? TEAMS_CARD : WHATSAPP_CARD);
    /** A private chat that must be created first (Teams) is created on the first send. */
    const open = async (to: Address): Promise<string> => {
      const prefix = `${platform}:dm:`;
      if (!p.openDm || !to.chatId.startsWith(prefix)) return to.chatId;
      return p.openDm(to.chatId.slice(prefix.length));
    };
    /** GitHub and Linear have no private chats: refuse, so the bot knows the card did not arrive. */
    const reachable = (to: Address): void => {
      if (markdown && to.chatId.startsWith(`${platform}:dm:`))
        throw new Error(`${platform} has no private chats`);
    };
    return {
      platform,
      // GitHub issues and PRs, Linear comment threads: the thread `/agent start` ran in is the agent's.
      ...(markdown ? { commentThreads: true, noPrivateChats: true } : {}),
      // WhatsApp Cloud cannot edit a sent card, so a batch card message must never gain items (the
      // bot would count on the platform showing them): later items come on a new message, and a tap
      // on "Approve all" covers exactly the items that message shows.
      ...(platform === "wacloud" ? { gesturesCarryNoCount: true } : {}),
      async start(handler) {
        handlers.set(platform, handler);
        await ensureStarted();
      },
      async stop() {
        handlers.delete(platform);
        await Promise.allSettled([...pending]);
      },
      async sendText(to, text) {
        reachable(to);
        const chatId = await open(to);
        return { platform, chatId, messageId: await postText(p, chatId, text) };
      },
      async sendCard(to, card) {
        if (platform === "wacloud" || platform === "teams" || p.card) {
          const chatId = await open(to);
          const sent = await p.adapter.postMessage(chatId, { card: buttonCard(card, limits) });
          return { platform, chatId: p.cardChatId?.(sent.raw, chatId) ?? chatId, messageId: sent.id };
        }
        if (!markdown) throw new Error(`${platform}: native cards are not built yet`);
        reachable(to);
        const c = codes.get(platform)!;
        const drawn = [await c.fresh()];
        for (const _ of card.items ?? []) drawn.push(await c.fresh());
        const sent = await p.adapter.postMessage(to.chatId, {
          markdown: renderMarkdownCard(card, drawn, p.maxText),
        });
        const ref = { platform, chatId: to.chatId, messageId: sent.id };
        await bindCodes(ref, card, drawn);
        return ref;
      },
      async updateCard(ref, card) {
        if (platform === "wacloud") {
          // WhatsApp Cloud cannot edit: the outcome follows as its own message; the buttons stay, and
          // a late tap is answered by the bot ("Already decided"), never counted.
          if (card.buttons.length === 0) await p.adapter.postMessage(ref.chatId, { raw: decidedText(card) });
          return;
        }
        if (platform === "teams" || p.card) {
          await p.adapter.editMessage(ref.chatId, ref.messageId, { card: buttonCard(card, limits) });
          return;
        }
        if (!markdown) throw new Error(`${platform}: native cards are not built yet`);
        const c = codes.get(platform)!;
        const had = cardCodes.get(`${platform}\0${ref.messageId}`) ?? [];
        const offers = [card.buttons, ...(card.items ?? []).map((it) => it.buttons)];
        // A code keeps meaning what the card said when someone read it: where a redraw changes what a
        // verb does ("Approve all" now covers 13, not 12), the new offer gets a new code and the old
        // one still covers the 12. A decided card (no buttons) keeps its codes: "Already decided".
        const drawn: string[] = [];
        for (const [i, buttons] of offers.entries()) {
          const old = had[i];
          const bound = old === undefined ? undefined : (await c.lookup(old))?.data;
          const same = buttons.every((b) => {
            const verb = verbOfData(b.data);
            return !verb || bound?.[verb] === b.data;
          });
          drawn.push(old !== undefined && same ? old : await c.fresh());
        }
        await p.adapter.editMessage(ref.chatId, ref.messageId, {
          markdown: renderMarkdownCard(card, drawn, p.maxText),
        });
        await bindCodes(ref, card, drawn);
      },
      privateChat(userId) {
        if (p.dm) return { platform, chatId: p.dm(userId) };
        // Teams: created (and cached by the router once the person writes) on the first send.
        // GitHub and Linear have no private chats: a card "sent privately" there cannot exist.
        return { platform, chatId: `${platform}:dm:${userId}` };
      },
    };

    async function bindCodes(ref: SentRef, card: Card, drawn: string[]): Promise<void> {
      cardCodes.set(`${platform}\0${ref.messageId}`, drawn);
      const c = codes.get(platform)!;
      await c.bind(drawn[0]!, ref, card.buttons);
      for (const [i, it] of (card.items ?? []).entries()) await c.bind(drawn[i + 1]!, ref, it.buttons);
    }
  });
  return built.map((c, i) => o.platforms[i]?.wrap?.(c, o.log) ?? c);
}
