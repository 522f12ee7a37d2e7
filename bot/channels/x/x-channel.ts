/**
 * X (Twitter) DMs as a `Channel`. Inbound: the DM timeline polled (`GET /2/dm_events`, default every
 * 65 s: the endpoint's rate limit) from a persisted cursor, and, when a webhook listener is given,
 * the Account Activity webhook at `/webhooks/x` (x-webhook.ts) for DMs as they happen; both feed one
 * path and a DM is handled once. DMs older than the cursor (or, on first start, than the newest DM
 * at start) never act. The bot's own DMs are ignored. Identities `x:<user id>`, as X's signed API
 * answer (or signed webhook) reports the sender.
 *
 * X DMs have no buttons, no markup and no edits: a card is plain text with a short code
 * (plain-card.ts), `approve <code>` / `deny <code>` / `grant <code>` in a DM is the tap, and a card's
 * later status is a follow-up DM. Untrusted: every DM's text; codes only map to data we drew.
 */
import type { Log } from "../../../gateway/index.js";
import type { Address, Channel, InboundEvent, SentRef } from "../../channel.js";
import type { WebhookListener } from "../../webhooks/webhook-listener.js";
import { jsonObject } from "../../webhooks/webhook-verifier.js";
import { type CodeStore, parseCodeReply } from "../approval-codes.js";
import { createPlainCardBook, plainAgentTexts } from "../plain-card.js";
import { splitText } from "../text.js";
import { type CursorStore, type DmCursor, newer } from "./dm-cursor.js";
import { type XApi, XApiError, type XDmEvent } from "./x-api.js";
import { AccountActivity, xVerifier } from "./x-webhook.js";

/** X's DM length limit is 10,000 characters. */
export const X_MAX_TEXT = 10_000;
const MAX_PAGES = 5;

export interface XChannelOptions {
  readonly api: XApi;
  readonly cursor: CursorStore;
  readonly log: Log;
  /** Approval codes that outlive a restart (the bot store); default in memory. */
  readonly codeStore?: CodeStore;
  /** The Account Activity webhook on this listener, checked with the consumer secret. */
  readonly webhook?: { readonly listener: WebhookListener; readonly consumerSecret: string };
  readonly pollMs?: number;
}

type Handler = (event: InboundEvent) => Promise<void>;

export function createXChannel(o: XChannelOptions): Channel {
  const platform = "x";
  const book = createPlainCardBook({ limit: X_MAX_TEXT, codeStore: o.codeStore });
  let handler: Handler | undefined;
  let me: { id: string; username: string } | undefined;
  let cursor: DmCursor | undefined;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> = Promise.resolve();
  let backoff = 0;
  /** Serialises handling, so the poll and the webhook never race on one DM. */
  let queue: Promise<void> = Promise.resolve();

  const to = (chatId: string) =>
    chatId.startsWith("conv:") ? { conversation: chatId.slice(5) } : { participant: chatId };

  async function send(chatId: string, text: string): Promise<SentRef> {
    return { platform, chatId, messageId: await o.api.sendDm(to(chatId), text) };
  }

  /** Hands one DM to the bot unless it is ours, old, or handled already. */
  function take(e: XDmEvent): Promise<void> {
    queue = queue.then(async () => {
      if (!cursor || !me || e.senderId === me.id) return;
      if (!newer(e.id, cursor.newest) || cursor.seen.includes(e.id)) return;
      cursor = { newest: cursor.newest, seen: [...cursor.seen, e.id] };
      o.cursor.save(cursor);
      const h = handler;
      if (h)
        await h(await eventOf(e)).catch((err: unknown) =>
          o.log("x_handler_failed", { error: (err as Error).name }),
        );
    });
    return queue;
  }

  async function eventOf(e: XDmEvent): Promise<InboundEvent> {
    const ids = e.conversationId.split("-");
    const isPrivate = ids.length === 2 && !!me && ids.includes(me.id) && ids.includes(e.senderId);
    const chatId = isPrivate ? e.senderId : `conv:${e.conversationId}`;
    const chat: Address = { platform, chatId };
    const from = { id: `${platform}:${e.senderId}`, name: `x:${e.senderId}` };
    const ref: SentRef = { platform, chatId, messageId: e.id };
    const code = parseCodeReply(e.text);
    if (code) {
      const target = await book.lookup(code.code);
      // An unknown code, or a verb the card never offered: the bot answers "not valid".
      return {
        kind: "action",
        from,
        chat,
        data: target?.data[code.verb] ?? "",
        ref: target?.ref ?? ref,
        // Privately, also for a code sent in a group conversation.
        reply: async (text) => void (await send(e.senderId, text)),
      };
    }
    const mentioned = isPrivate || (!!me && e.text.toLowerCase().includes(`@${me.username.toLowerCase()}`));
    return { kind: "message", from, chat, isPrivate, mentioned, text: e.text, ref };
  }

  /** One poll: every DM newer than the cursor, oldest first; then the cursor moves past them. */
  async function poll(): Promise<void> {
    const fresh: XDmEvent[] = [];
    let page = await o.api.dmEvents();
    const top = page.events[0]?.id;
    for (let n = 1; ; n++) {
      const base = cursor?.newest;
      const newerOnes = base === undefined ? [] : page.events.filter((e) => newer(e.id, base));
      fresh.push(...newerOnes);
      if (base === undefined || newerOnes.length < page.events.length || !page.nextToken || n >= MAX_PAGES)
        break;
      page = await o.api.dmEvents(page.nextToken);
    }
    if (!cursor) {
      // First start: everything before now is history, never a command or a tap.
      cursor = { newest: top ?? "0", seen: [] };
      return o.cursor.save(cursor);
    }
    fresh.sort((a, b) => (newer(a.id, b.id) ? 1 : -1));
    for (const e of fresh) await take(e);
    await queue;
    const last = fresh.at(-1)?.id;
    if (last && cursor && newer(last, cursor.newest)) {
      const passed = last;
      cursor = { newest: passed, seen: cursor.seen.filter((id) => newer(id, passed)) };
      o.cursor.save(cursor);
    }
  }

  function schedule(): void {
    const base = o.pollMs ?? 65_000;
    timer = setTimeout(
      () => {
        polling = poll()
          .then(() => {
            backoff = 0;
          })
          .catch((err: unknown) => {
            backoff = Math.min(backoff + 1, 4);
            o.log("x_poll_failed", { error: err instanceof XApiError ? err.code : "x_failed" });
          })
          .finally(() => {
            if (handler) schedule();
          });
      },
      base * 2 ** backoff,
    );
    timer.unref?.();
  }

  return {
    platform,
    // No edits: a batch card message keeps the items it was sent with; later ones come on a new one.
    gesturesCarryNoCount: true,
    async start(h) {
      me = await o.api.me();
      cursor = o.cursor.load();
      // DMs that arrived while Warden was down are handled by this first poll.
      handler = h;
      await poll();
      if (o.webhook)
        o.webhook.listener.route({
          verifier: xVerifier(o.webhook.consumerSecret),
          handle: async (d) => {
            const body = AccountActivity.safeParse(jsonObject(d.body));
            // Signed for another account of the same app: not ours to read.
            if (!body.success || body.data.for_user_id !== me?.id) return { status: 200, body: "{}" };
            for (const e of body.data.direct_message_events ?? []) {
              const mc = e.message_create;
              if (e.type !== "message_create" || !mc) continue;
              const pair = [mc.sender_id, mc.target.recipient_id].sort((a, b) => (newer(a, b) ? 1 : -1));
              await take({
                id: e.id,
                text: mc.message_data.text,
                senderId: mc.sender_id,
                conversationId: pair.join("-"),
              });
            }
            return { status: 200, body: "{}" };
          },
        });
      schedule();
    },
    async stop() {
      handler = undefined;
      clearTimeout(timer);
      await polling.catch(() => undefined);
      await queue;
    },
    async sendText(addr, text, opts) {
      const parts = opts?.agent ? plainAgentTexts(opts.agent, text, X_MAX_TEXT) : splitText(text, X_MAX_TEXT);
      let last: SentRef | undefined;
      for (const p of parts) last = await send(addr.chatId, p);
      if (!last) throw new Error("nothing to send");
      return last;
    },
    async sendCard(addr, card) {
      const { text, codes } = await book.draw(card);
      const ref = await send(addr.chatId, text);
      await book.sent(ref, card, codes);
      return ref;
    },
    async updateCard(ref, card) {
      const text = book.followUp(ref, card);
      if (text) await send(ref.chatId, text);
    },
    privateChat: (userId) => ({ platform, chatId: userId }),
  };
}
