/**
 * Reply tokens: the proof that a reply to an approval card came from someone who received that card.
 * Each card mail gets its own token (128 random bits, hex) in `Reply-To: <local>+<token>@<domain>`;
 * the token is bound to that card's Message-ID and chat. `From:` is forgeable, so a reply decides
 * only when it was addressed to the token AND names the bound card in In-Reply-To / References.
 * Whoever holds the card mail holds the token: it must go only to the approver it was sent to.
 *
 * Optionally kept in the bot store's state rows (bot/persisted-state.ts) so replies to cards sent
 * before a restart still count; rows expire after 30 days, memory is bounded (oldest dropped). Stored
 * rows are parsed with zod on the way back: an edited row reads as absent.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { StateRows } from "../../persisted-state.js";

export interface TokenBinding {
  /** The card mail's Message-ID, without angle brackets (= the card's `SentRef.messageId`). */
  readonly messageId: string;
  /** The address the card was sent to (the card's chat). */
  readonly chatId: string;
  readonly subject: string;
}

export interface ReplyTokens {
  mint(): string;
  bind(token: string, binding: TokenBinding): Promise<void>;
  lookup(token: string): Promise<TokenBinding | undefined>;
  /** The token of a card message, for follow-ups in its thread. */
  tokenOf(messageId: string): Promise<string | undefined>;
}

/** 128 bits, lower-case hex: survives MTAs that lower-case local parts. */
export const TOKEN = /^[0-9a-f]{32}$/;
const MAX_TOKENS = 10_000;

const Stored = z.object({
  messageId: z.string().max(300),
  chatId: z.string().max(254),
  subject: z.string().max(400),
});
const NS = "email-reply-token";
const TTL = 30 * 24 * 3600_000;

export function createReplyTokens(opts: { rows?: StateRows; now?: () => number } = {}): ReplyTokens {
  const byToken = new Map<string, TokenBinding>();
  const byMessage = new Map<string, string>();
  const now = opts.now ?? Date.now;
  // Stored tokens load once; every read waits for them (a reply to a card sent before a restart).
  const ready = (async () => {
    for (const row of (await opts.rows?.stateList(NS)) ?? []) {
      if (!TOKEN.test(row.key)) continue;
      try {
        const b = Stored.safeParse(JSON.parse(row.value));
        if (b.success) put(row.key, b.data);
      } catch {
        // an unreadable row is no token
      }
    }
  })();
  ready.catch(() => undefined); // observed by each read: a failed load fails them (no silent "unknown")

  function put(token: string, b: TokenBinding): void {
    byToken.set(token, b);
    byMessage.set(b.messageId, token);
    while (byToken.size > MAX_TOKENS) {
      const [oldest, ob] = byToken.entries().next().value as [string, TokenBinding];
      byToken.delete(oldest);
      byMessage.delete(ob.messageId);
    }
  }

  return {
    mint: () => randomBytes(16).toString("hex"),
    async bind(token, binding) {
      if (!TOKEN.test(token)) throw new Error("email: malformed reply token");
      await ready;
      put(token, binding);
      await opts.rows?.statePut(NS, token, JSON.stringify(binding), now() + TTL);
    },
    async lookup(token) {
      await ready;
      return TOKEN.test(token) ? byToken.get(token) : undefined;
    },
    async tokenOf(messageId) {
      await ready;
      return byMessage.get(messageId);
    },
  };
}
