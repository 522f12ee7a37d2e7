/**
 * WhatsApp Cloud's 24-hour customer-service window, as a wrapper around the WhatsApp Cloud Channel:
 * a business may send free-form messages (cards, texts) to a person only within 24 hours of that
 * person's last message. Each person's last inbound time is kept (persisted by the bot's store).
 * Outside the window a card is never sent as a card:
 * - with `WHATSAPP_CARD_TEMPLATE` set, the pre-approved template goes instead (its text is fixed at
 *   Meta: "an approval is waiting, reply to see it"; we send no parameters, so nothing agent-written
 *   is in it). The card waits; when the person writes, it is sent, and a tap on it counts for the
 *   template message the bot recorded as the card.
 * - without a template nothing is sent: sendCard fails with `WhatsAppWindowClosed`, the bot logs
 *   that the card could not be delivered, and the approval stays held (it expires, never approves).
 * The Graph API's own refusal for a closed window (error 131047, "Re-engagement message") is read the
 * same way. Untrusted: inbound events (their sender is vouched for by Meta's signature, checked
 * before the adapter saw them), and the API's error text (only searched for the code, never logged).
 */
import type { Address, Card, Channel, InboundEvent, SentRef } from "../../channel.js";

/** Meta's window is 24 h from the person's message; we date it on receipt (≤ 5 min late), so keep a margin. */
export const WINDOW_MS = 24 * 3600_000 - 10 * 60_000;

/** A card held back until its person writes: `nudgeId` is the template message the bot recorded. */
export interface WithheldCard {
  readonly user: string;
  readonly nudgeId: string;
  readonly to: Address;
  readonly card: Card;
}

export interface WaWindowStore {
  /** When `user` (digits) last wrote to us, if within the window's life. */
  lastInbound(user: string): Promise<number | undefined>;
  sawInbound(user: string, at: number): Promise<void>;
  /** The window is known closed (the API said so). */
  forget(user: string): Promise<void>;
  withheld(user: string): Promise<WithheldCard[]>;
  putWithheld(w: WithheldCard): Promise<void>;
  /** True for the one caller that took it (webhooks reach every replica: only one sends it). */
  dropWithheld(user: string, nudgeId: string): Promise<boolean>;
  /** The template message a card later shown to `user` stands for. */
  nudgeOf(user: string, shownId: string): Promise<string | undefined>;
  setShown(user: string, shownId: string, nudgeId: string): Promise<void>;
}

/** `WHATSAPP_CARD_TEMPLATE=name[:language]`. */
export interface WaTemplate {
  readonly name: string;
  readonly language: string;
}

export interface WaWindowOptions {
  readonly store: WaWindowStore;
  readonly template?: WaTemplate;
  /** The person (digits) a thread id addresses; throws for anything else. */
  readonly userOf: (threadId: string) => string;
  /** Sends the template (the adapter's `sendTemplate`); returns its message id. */
  readonly sendTemplate: (threadId: string, t: WaTemplate) => Promise<string>;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
  readonly now?: () => number;
}

/** Stable error: the card or text was not sent because the person's window is closed. */
export class WhatsAppWindowClosed extends Error {
  override readonly name = "WhatsAppWindowClosed";
  readonly code = "wacloud_window_closed";
  readonly undeliverable =
    "they have not written to the bot on WhatsApp in the last 24 hours, and no WHATSAPP_CARD_TEMPLATE is set";
  constructor() {
    super("WhatsApp's 24-hour window with this person is closed: nothing was sent");
  }
}

/** The Graph API's refusal of a free-form message outside the window (code 131047). */
export function isWindowRefusal(err: unknown): boolean {
  const text = err instanceof Error ? err.message : "";
  return /"code"\s*:\s*131047\b/.test(text);
}

/** Parses `name[:language]` (Meta template names: lower-case letters, digits, underscores). */
export function parseWaTemplate(s: string): WaTemplate {
  const m = /^([a-z0-9_]{1,512})(?::([A-Za-z]{2,3}(?:_[A-Za-z]{2,4})?))?$/.exec(s.trim());
  if (!m?.[1]) throw new Error("WHATSAPP_CARD_TEMPLATE must be name[:language], e.g. warden_approval:en_US");
  return { name: m[1], language: m[2] ?? "en" };
}

export function withWhatsAppWindow(inner: Channel, o: WaWindowOptions): Channel {
  const now = o.now ?? Date.now;
  const { store } = o;
  const isOpen = async (user: string): Promise<boolean> => {
    const last = await store.lastInbound(user);
    return last !== undefined && now() - last < WINDOW_MS;
  };
  const closed = async (what: "card" | "text", user: string): Promise<WhatsAppWindowClosed> => {
    await store.forget(user);
    o.log("wacloud_undeliverable", { what, reason: "outside_24h_window", template: false });
    return new WhatsAppWindowClosed();
  };
  /** Runs `send` inside the window; the API's own "window closed" refusal reads as closed. */
  async function inWindow<T>(what: "card" | "text", user: string, send: () => Promise<T>): Promise<T> {
    if (!(await isOpen(user))) throw await closed(what, user);
    try {
      return await send();
    } catch (err) {
      if (isWindowRefusal(err)) throw await closed(what, user);
      throw err;
    }
  }

  /** The person wrote: the window is open again; cards that waited for them go now. */
  async function opened(user: string): Promise<void> {
    await store.sawInbound(user, now());
    for (const w of await store.withheld(user)) {
      // Taken first, so a second message arriving meanwhile (here or on another replica) does not
      // send the card twice: only the caller whose delete removed the row sends it.
      if (!(await store.dropWithheld(user, w.nudgeId))) continue;
      try {
        if (w.card.buttons.length > 0) {
          const shown = await inner.sendCard(w.to, w.card);
          await store.setShown(user, shown.messageId, w.nudgeId);
        } else {
          // Decided while it waited: the outcome, as for any WhatsApp Cloud card.
          await inner.updateCard(
            { platform: inner.platform, chatId: w.to.chatId, messageId: w.nudgeId },
            w.card,
          );
        }
      } catch (err) {
        await store.putWithheld(w);
        o.log("wacloud_withheld_send_failed", { error: (err as Error).name });
      }
    }
  }

  return {
    ...inner,
    platform: inner.platform,
    async start(handler) {
      await inner.start(async (event: InboundEvent) => {
        const user = event.from.id.slice(event.from.id.indexOf(":") + 1);
        await opened(user);
        if (event.kind === "action") {
          // A tap on a card shown after its template counts for the template message (the card the
          // bot recorded); only the person it was shown to can name it.
          const nudge = await store.nudgeOf(user, event.ref.messageId);
          if (nudge) return handler({ ...event, ref: { ...event.ref, messageId: nudge } });
        }
        return handler(event);
      });
    },
    stop: () => inner.stop(),
    privateChat: (userId) => inner.privateChat(userId),
    async sendText(to, text, opts) {
      return inWindow("text", o.userOf(to.chatId), () => inner.sendText(to, text, opts));
    },
    async sendCard(to, card) {
      const user = o.userOf(to.chatId);
      try {
        return await inWindow("card", user, () => inner.sendCard(to, card));
      } catch (err) {
        if (!(err instanceof WhatsAppWindowClosed) || !o.template) throw err;
      }
      const nudgeId = await o.sendTemplate(to.chatId, o.template);
      await store.putWithheld({ user, nudgeId, to: { platform: to.platform, chatId: to.chatId }, card });
      o.log("wacloud_card_withheld", { reason: "outside_24h_window", template: true });
      return { platform: inner.platform, chatId: to.chatId, messageId: nudgeId } satisfies SentRef;
    },
    async updateCard(ref, card) {
      const user = o.userOf(ref.chatId);
      const waiting = (await store.withheld(user)).find((w) => w.nudgeId === ref.messageId);
      // Still waiting for its person: they will see the card as it is when they write.
      if (waiting) return store.putWithheld({ ...waiting, card });
      // A card that still has buttons is not re-sent here (no edits): nothing goes out.
      if (card.buttons.length > 0) return inner.updateCard(ref, card);
      await inWindow("card", user, () => inner.updateCard(ref, card));
    },
  };
}
