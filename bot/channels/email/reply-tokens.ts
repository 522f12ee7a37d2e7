/**
 * Reply tokens: the proof that a reply to an approval card came from someone who received that card.
 * Each card mail gets its own token (128 random bits, hex) in `Reply-To: <local>+<token>@<domain>`;
 * the token is bound to that card's Message-ID and chat. `From:` is forgeable, so a reply decides
 * only when it was addressed to the token AND names the bound card in In-Reply-To / References.
 * Whoever holds the card mail holds the token: it must go only to the approver it was sent to.
 *
 * Optionally kept in a file (mode 0600, under WARDEN_HOME) so replies to cards sent before a restart
 * still count; bounded, oldest dropped. The file's contents are untrusted on load (zod).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { z } from "zod";

export interface TokenBinding {
  /** The card mail's Message-ID, without angle brackets (= the card's `SentRef.messageId`). */
  readonly messageId: string;
  /** The address the card was sent to (the card's chat). */
  readonly chatId: string;
  readonly subject: string;
}

export interface ReplyTokens {
  mint(): string;
  bind(token: string, binding: TokenBinding): void;
  lookup(token: string): TokenBinding | undefined;
  /** The token of a card message, for follow-ups in its thread. */
  tokenOf(messageId: string): string | undefined;
}

/** 128 bits, lower-case hex: survives MTAs that lower-case local parts. */
export const TOKEN = /^[0-9a-f]{32}$/;
const MAX_TOKENS = 10_000;

const Stored = z.array(
  z.tuple([
    z.string().regex(TOKEN),
    z.object({ messageId: z.string().max(300), chatId: z.string().max(254), subject: z.string().max(400) }),
  ]),
);

export function createReplyTokens(
  opts: { file?: string; log?: (e: string, f: Record<string, unknown>) => void } = {},
): ReplyTokens {
  const byToken = new Map<string, TokenBinding>();
  const byMessage = new Map<string, string>();
  if (opts.file) {
    try {
      const parsed = Stored.safeParse(JSON.parse(readFileSync(opts.file, "utf8")));
      if (parsed.success) for (const [t, b] of parsed.data) put(t, b);
      else opts.log?.("email.tokens_unreadable", {});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") opts.log?.("email.tokens_unreadable", {});
    }
  }

  function put(token: string, b: TokenBinding): void {
    byToken.set(token, b);
    byMessage.set(b.messageId, token);
    while (byToken.size > MAX_TOKENS) {
      const [oldest, ob] = byToken.entries().next().value as [string, TokenBinding];
      byToken.delete(oldest);
      byMessage.delete(ob.messageId);
    }
  }

  function save(): void {
    if (!opts.file) return;
    const tmp = `${opts.file}.tmp`;
    writeFileSync(tmp, JSON.stringify([...byToken]), { mode: 0o600 });
    renameSync(tmp, opts.file);
  }

  return {
    mint: () => randomBytes(16).toString("hex"),
    bind(token, binding) {
      if (!TOKEN.test(token)) throw new Error("email: malformed reply token");
      put(token, binding);
      save();
    },
    lookup: (token) => (TOKEN.test(token) ? byToken.get(token) : undefined),
    tokenOf: (messageId) => byMessage.get(messageId),
  };
}
