/**
 * Messenger and Instagram as `Channel`s, on our own Send API client (graph-send-api.ts) and the shared
 * webhook listener (`/webhooks/messenger`, `/webhooks/instagram`; bot/webhooks/meta-verifiers.ts:
 * verify token, signature, age, replay). The sender's id (PSID / IGSID) is vouched for by Meta's
 * signature; text and postback payloads are people's untrusted input. Identities `messenger:<psid>`,
 * `instagram:<igsid>`; every conversation is private (a page or account talks to one person), so
 * there are no group chats. Our own echoes are ignored.
 *
 * Taps: a postback names no message, so its payload carries the card's approval code; the code maps
 * to the exact card message and button data (approval-codes.ts), and only when that card was sent to
 * the person tapping (a code from someone else's card is "not valid"). Neither platform edits a sent
 * message: a decision follows as its own message, the old buttons stay, a late tap is answered by the
 * bot and decides nothing, and a card message never gains batch items (`gesturesCarryNoCount`: the
 * bot freezes a card's items when sent, so a postback's drawn count is what the card showed).
 * The 24-hour messaging window is enforced before every send (messaging-window.ts): fail closed.
 */
import type { Log } from "../../../gateway/index.js";
import type { Address, Channel, InboundEvent, SentRef } from "../../channel.js";
import {
  actionableEvents,
  instagramVerifier,
  MetaDelivery,
  type MetaMessaging,
  messengerVerifier,
} from "../../webhooks/meta-verifiers.js";
import type { WebhookListener } from "../../webhooks/webhook-listener.js";
import { jsonObject } from "../../webhooks/webhook-verifier.js";
import { agentLabel, tidyAgentText } from "../agent-voice.js";
import { type ApprovalCodes, createApprovalCodes } from "../approval-codes.js";
import { splitText } from "../text.js";
import { createGraphSendApi, GraphApiError, type GraphMessage, type GraphSendApi } from "./graph-send-api.js";
import {
  decidedText,
  INSTAGRAM,
  MESSENGER,
  type MetaPlatform,
  metaCardMessages,
  parsePayload,
} from "./meta-card.js";
import {
  MessagingWindowClosed,
  memoryWindowStore,
  type WindowStore,
  windowOpen,
} from "./messaging-window.js";

export const DEFAULT_API_URL: Readonly<Record<MetaPlatform, string>> = {
  messenger: "https://graph.facebook.com",
  instagram: "https://graph.instagram.com",
};

export interface MetaChannelOptions {
  readonly platform: MetaPlatform;
  /** Messenger: the page access token; Instagram: the Instagram access token. */
  readonly token: string;
  readonly appSecret: string;
  readonly verifyToken: string;
  readonly apiUrl?: string;
  readonly apiVersion?: string;
  readonly listener: WebhookListener;
  readonly log: Log;
  readonly now?: () => number;
  /** Each person's last message time (default: memory; the bot's store keeps it across restarts). */
  readonly window?: WindowStore;
  /** Approval codes (default: memory; with a store they outlive a restart). */
  readonly codes?: ApprovalCodes;
  readonly api?: GraphSendApi;
}

export function createMetaChannel(o: MetaChannelOptions): Channel {
  const platform = o.platform;
  const limits = platform === "messenger" ? MESSENGER : INSTAGRAM;
  const now = o.now ?? Date.now;
  const api =
    o.api ??
    createGraphSendApi({
      token: o.token,
      apiUrl: o.apiUrl ?? DEFAULT_API_URL[platform],
      version: o.apiVersion,
    });
  const window = o.window ?? memoryWindowStore();
  const codes = o.codes ?? createApprovalCodes();
  const verifier =
    platform === "messenger"
      ? messengerVerifier(o.appSecret, o.verifyToken)
      : instagramVerifier(o.appSecret, o.verifyToken);
  let handler: ((e: InboundEvent) => Promise<void>) | undefined;
  let routed = false;
  const pending = new Set<Promise<void>>();
  /** Cards whose decision was already said (a follow-up each, once). */
  const decided = new Set<string>();

  /** Sends in order; refuses before the first byte when the window is closed, and on Meta's own word. */
  async function send(user: string, messages: GraphMessage[]): Promise<string> {
    if (!(await windowOpen(window, user, now()))) {
      o.log("meta_window_closed", { platform });
      throw new MessagingWindowClosed(platform);
    }
    let last: string | undefined;
    for (const m of messages) {
      try {
        last = await api.send(user, m);
      } catch (err) {
        if (err instanceof GraphApiError && err.windowClosed) {
          await window.forget(user);
          o.log("meta_window_closed", { platform, by: "api" });
          throw new MessagingWindowClosed(platform);
        }
        throw err;
      }
    }
    if (last === undefined) throw new Error("nothing to send");
    return last;
  }

  async function sendText(to: Address, text: string, agent?: string): Promise<SentRef> {
    const shown = agent === undefined ? text : `${agentLabel(agent)}\n${tidyAgentText(text)}`;
    const id = await send(
      to.chatId,
      splitText(shown, limits.text).map((t) => ({ text: t })),
    );
    return { platform, chatId: to.chatId, messageId: id };
  }

  async function onEvent(e: MetaMessaging): Promise<void> {
    const user = e.sender.id;
    const chat: Address = { platform, chatId: user };
    const from = { id: `${platform}:${user}`, name: user };
    const payload = e.postback?.payload ?? e.message?.quick_reply?.payload;
    const mid = e.message?.mid ?? e.postback?.mid ?? "postback";
    if (payload !== undefined) {
      const p = parsePayload(payload);
      const target = p ? await codes.lookup(p.code) : undefined;
      // Only a code from a card sent to this very person is a tap on that card.
      const mine = target && target.ref.chatId === user ? target : undefined;
      await handler?.({
        kind: "action",
        from,
        chat,
        data: (p && mine?.data[p.verb]) ?? "",
        ref: mine?.ref ?? { platform, chatId: user, messageId: mid },
        reply: (text) => sendText(chat, text).then(() => undefined),
      });
      return;
    }
    if (e.message?.text === undefined) return;
    await handler?.({
      kind: "message",
      from,
      chat,
      isPrivate: true,
      mentioned: false,
      text: e.message.text,
      ref: { platform, chatId: user, messageId: mid },
    });
  }

  return {
    platform,
    gesturesCarryNoCount: true,
    async start(h) {
      handler = h;
      if (routed) return;
      routed = true;
      o.listener.route({
        verifier,
        handle: async (d) => {
          const body = MetaDelivery.safeParse(jsonObject(d.body));
          if (!body.success) return { status: 200, body: "{}" };
          const t = now();
          const events = actionableEvents(body.data).map((x) => x.event);
          // The window opens with the person's message, whether or not the bot is listening now.
          // Recorded before the 200 and before the bot answers: its reply needs the window open.
          for (const e of events) await window.sawInbound(e.sender.id, Math.min(e.timestamp ?? t, t));
          const task = (async () => {
            for (const e of events)
              await onEvent(e).catch((err: unknown) =>
                o.log("meta_event_failed", { platform, error: (err as Error).name }),
              );
          })();
          pending.add(task);
          void task.finally(() => pending.delete(task));
          return { status: 200, body: "{}" };
        },
      });
    },
    async stop() {
      handler = undefined;
      await Promise.allSettled([...pending]);
    },
    sendText: (to, text, opts) => sendText(to, text, opts?.agent),
    async sendCard(to, card) {
      const code = await codes.fresh();
      const id = await send(to.chatId, metaCardMessages(platform, card, code));
      const ref = { platform, chatId: to.chatId, messageId: id };
      await codes.bind(code, ref, card.buttons);
      return ref;
    },
    async updateCard(ref, card) {
      // No edits: the buttons drawn stay what they were (their payloads keep the data shown, so a
      // late tap is answered "Already decided"); the decision follows once as a message.
      if (card.buttons.length > 0 || decided.has(ref.messageId)) return;
      decided.add(ref.messageId);
      await send(ref.chatId, [{ text: decidedText(card) }]);
    },
    privateChat: (userId) => ({ platform, chatId: userId }),
  };
}
