/**
 * Webex as a `Channel`, on our own REST client (webex-api.ts) and the shared webhook listener
 * (`/webhooks/webex`, bot/webhooks/webex-verifier.ts: signature, age, replay). A webhook carries only
 * ids, so every message and every button press is fetched back from the API with the bot's token
 * before anything is delivered: the text, the sender (`personId`, as Webex vouches for it) and the
 * button data (`inputs`) come from Webex, never from the webhook body. All of it is still people's
 * untrusted input. Identities `webex:<personId>`; a private chat is the person's direct room
 * (`dm:<personId>`, sent with `toPersonId`); a group room is its `roomId`.
 *
 * Cards (webex-card.ts) are Adaptive Cards with `Action.Submit`. Webex edits only text messages, not
 * ones with attachments, so an update posts the new card and then deletes the old one; taps on the
 * new message are reported against the card the bot first sent (the bot's records name that one).
 * That alias map is in memory: after a restart a tap on a re-posted card is "not valid" (fail closed).
 */
import type { Log } from "../../../gateway/index.js";
import type { Address, Channel, InboundEvent, SentRef } from "../../channel.js";
import { WEBEX_RESOURCES, WebexEnvelope, webexVerifier } from "../../webhooks/webex-verifier.js";
import type { WebhookListener } from "../../webhooks/webhook-listener.js";
import { jsonObject } from "../../webhooks/webhook-verifier.js";
import { agentLabel, tidyAgentText } from "../agent-voice.js";
import { splitText } from "../text.js";
import { createWebexApi, type WebexApi, type WebexMessage, type WebexTarget } from "./webex-api.js";
import { webexCard } from "./webex-card.js";

/** Webex allows 7439 bytes of text; 2400 UTF-16 units are at most 7200 bytes of UTF-8. */
export const WEBEX_TEXT_MAX = 2400;
const DM = "dm:";

export interface WebexChannelOptions {
  readonly token: string;
  readonly webhookSecret: string;
  readonly apiUrl?: string;
  readonly listener: WebhookListener;
  /** Where Webex reaches the listener (`WARDEN_PUBLIC_URL`); absent: webhooks are not registered. */
  readonly publicUrl?: string;
  readonly log: Log;
  /** Replaces the client (tests use the real one against a fake). */
  readonly api?: WebexApi;
}

/** The Channel, and which message now shows a card first sent as `messageId` (diagnostics, tests). */
export interface WebexChannel extends Channel {
  liveMessageId(messageId: string): string;
}

export function createWebexChannel(o: WebexChannelOptions): WebexChannel {
  const platform = "webex";
  const api = o.api ?? createWebexApi({ token: o.token, apiUrl: o.apiUrl });
  let handler: ((e: InboundEvent) => Promise<void>) | undefined;
  let me: { id: string; displayName?: string } | undefined;
  const pending = new Set<Promise<void>>();
  const roomTypes = new Map<string, "direct" | "group">();
  /** Card first sent → the message now showing it; and back. */
  const live = new Map<string, string>();
  const origin = new Map<string, string>();
  /** Updates of one card run one after another (a batch redraws often): no card is left twice. */
  const queues = new Map<string, Promise<void>>();

  const target = (chatId: string): WebexTarget =>
    chatId.startsWith(DM) ? { toPersonId: chatId.slice(DM.length) } : { roomId: chatId };
  const learn = (m: WebexMessage): void => {
    if (m.roomType) roomTypes.set(m.roomId, m.roomType);
  };
  async function roomType(roomId: string): Promise<"direct" | "group"> {
    const known = roomTypes.get(roomId);
    if (known) return known;
    const r = await api.room(roomId);
    roomTypes.set(roomId, r.type);
    return r.type;
  }
  /** A direct room has the bot and one person: it is that person's private chat. */
  const chatOf = async (roomId: string, personId: string): Promise<Address> => ({
    platform,
    chatId: (await roomType(roomId)) === "direct" ? `${DM}${personId}` : roomId,
  });

  async function sendText(to: Address, text: string, agent?: string): Promise<SentRef> {
    const shown = agent === undefined ? text : `${agentLabel(agent)}\n${tidyAgentText(text)}`;
    let last: WebexMessage | undefined;
    // Plain `text`: Webex renders no markdown or mentions in it, whoever wrote the words.
    for (const part of splitText(shown, WEBEX_TEXT_MAX)) {
      last = await api.send(target(to.chatId), { text: part });
      learn(last);
    }
    if (!last) throw new Error("nothing to send");
    return { platform, chatId: to.chatId, messageId: last.id };
  }

  async function onMessage(id: string): Promise<void> {
    const m = await api.message(id);
    learn(m);
    if (!m.personId || m.personId === me?.id || m.id !== id) return;
    const chat = await chatOf(m.roomId, m.personId);
    const isPrivate = chat.chatId.startsWith(DM);
    const mentioned = !isPrivate && (m.mentionedPeople ?? []).includes(me?.id ?? "");
    let text = m.text ?? "";
    // In a room Webex puts the bot's name in front of a mention: the command follows it.
    const name = me?.displayName;
    if (mentioned && name && text.startsWith(name)) text = text.slice(name.length).trimStart();
    await handler?.({
      kind: "message",
      from: { id: `${platform}:${m.personId}`, name: m.personEmail ?? m.personId },
      chat,
      isPrivate,
      mentioned,
      text,
      ref: { platform, chatId: chat.chatId, messageId: m.id },
    });
  }

  async function onAction(id: string): Promise<void> {
    const a = await api.action(id);
    if (a.personId === me?.id || a.type !== "submit") return;
    const chat = await chatOf(a.roomId, a.personId);
    const data = typeof a.inputs?.w === "string" && a.inputs.w.length <= 256 ? a.inputs.w : "";
    const tapper: Address = { platform, chatId: `${DM}${a.personId}` };
    await handler?.({
      kind: "action",
      from: { id: `${platform}:${a.personId}`, name: a.personId },
      chat,
      data,
      ref: { platform, chatId: chat.chatId, messageId: origin.get(a.messageId) ?? a.messageId },
      // Webex has no private answers in a room: the tapper hears it in their direct room.
      reply: (text) => sendText(tapper, text).then(() => undefined),
    });
  }

  return {
    platform,
    async start(h) {
      handler = h;
      me = await api.me();
      o.listener.route({
        verifier: webexVerifier(o.webhookSecret),
        handle: async (d) => {
          const e = WebexEnvelope.safeParse(jsonObject(d.body));
          if (!e.success || !handler) return { status: 200, body: "{}" };
          const { resource, data } = e.data;
          // Our own messages come back as webhooks too.
          if (data.personId && data.personId === me?.id) return { status: 200, body: "{}" };
          const task = (resource === "messages" ? onMessage(data.id) : onAction(data.id)).catch(
            (err: unknown) => o.log("webex_event_failed", { resource, error: (err as Error).name }),
          );
          pending.add(task);
          void task.finally(() => pending.delete(task));
          return { status: 200, body: "{}" };
        },
      });
      if (o.publicUrl)
        await api.registerWebhooks(
          `${o.publicUrl.replace(/\/+$/, "")}/webhooks/webex`,
          WEBEX_RESOURCES,
          o.webhookSecret,
        );
      else o.log("webex_webhooks_not_registered", { reason: "no WARDEN_PUBLIC_URL" });
    },
    async stop() {
      handler = undefined;
      await Promise.allSettled([...pending]);
    },
    sendText: (to, text, opts) => sendText(to, text, opts?.agent),
    async sendCard(to, card) {
      const m = await api.send(target(to.chatId), webexCard(card));
      learn(m);
      return { platform, chatId: to.chatId, messageId: m.id };
    },
    updateCard(ref, card) {
      const run = async (): Promise<void> => {
        // Posted first, deleted second: a failure leaves a stale card, never none.
        const m = await api.send(target(ref.chatId), webexCard(card));
        learn(m);
        const old = live.get(ref.messageId) ?? ref.messageId;
        live.set(ref.messageId, m.id);
        origin.set(m.id, ref.messageId);
        await api
          .deleteMessage(old)
          .catch((err: unknown) => o.log("webex_card_delete_failed", { error: (err as Error).name }));
      };
      const next = (queues.get(ref.messageId) ?? Promise.resolve()).then(run, run);
      queues.set(ref.messageId, next);
      const done = (): void => {
        if (queues.get(ref.messageId) === next) queues.delete(ref.messageId);
      };
      void next.then(done, done);
      return next;
    },
    privateChat: (userId) => ({ platform, chatId: `${DM}${userId}` }),
    liveMessageId: (messageId) => live.get(messageId) ?? messageId,
    async deleteMessage(ref) {
      await api.deleteMessage(live.get(ref.messageId) ?? ref.messageId);
    },
  };
}
