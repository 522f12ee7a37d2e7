/**
 * Answering Discord interactions: each must be acknowledged once, within 3 seconds, through
 * `POST /interactions/{id}/{token}/callback`; later messages go through the interaction's webhook
 * (`/webhooks/{app}/{token}`, valid 15 minutes). Interaction tokens are credentials for that window:
 * they stay in this module and in request URLs, never in logs or errors (see errors.ts).
 *
 * Clicks: the bot's `reply(text)` becomes an ephemeral message only the clicker sees. If the bot has
 * not replied after `deferAfterMs`, we acknowledge silently (type 6) and send the reply as an
 * ephemeral follow-up instead. Slash commands: we defer at once (type 5, "thinking…"); while the
 * command runs, text the bot sends to that chat becomes the response (first: edit of the original,
 * then follow-ups), so the answer appears under the command; a command that never answered has its
 * placeholder deleted. Everything is public, as if posted in the chat, so a reply that lands under
 * the "wrong" concurrent command in the same chat shows nobody anything they could not see anyway.
 */
import { InteractionResponseType, MessageFlags, type REST, Routes } from "discord.js";
import { contentChunks, NO_MENTIONS } from "./embeds.js";

/** What we need of an interaction to answer it. */
export interface InteractionRef {
  readonly id: string;
  readonly token: string;
  readonly applicationId: string;
}

type Log = (event: string, fields: Record<string, unknown>) => void;

// Interaction tokens last 15 minutes; stop using one a little before.
const TOKEN_LIFETIME_MS = 14 * 60_000;

/** Runs `f` after everything queued before it, whether that succeeded or not. */
function serializer(): <T>(f: () => Promise<T>) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return <T>(f: () => Promise<T>): Promise<T> => {
    const p = chain.then(f);
    chain = p.catch(() => undefined);
    return p;
  };
}

const callback = (rest: REST, i: InteractionRef, body: Record<string, unknown>) =>
  rest.post(Routes.interactionCallback(i.id, i.token), { body, auth: false });
const followup = (rest: REST, i: InteractionRef, body: Record<string, unknown>) =>
  rest.post(Routes.webhook(i.applicationId, i.token), {
    body,
    auth: false,
    query: new URLSearchParams({ wait: "true" }),
  }) as Promise<{ id: string }>;

/** Answers `i` with an ephemeral `text`, as its one and only answer (e.g. a command we do not know). */
export async function refuse(rest: REST, i: InteractionRef, text: string): Promise<void> {
  const data = {
    content: contentChunks(text)[0],
    flags: MessageFlags.Ephemeral,
    allowed_mentions: NO_MENTIONS,
  };
  await callback(rest, i, { type: InteractionResponseType.ChannelMessageWithSource, data });
}

/** One button click's answer: `reply` for the bot, `finish` once its handler settled. */
export interface ClickAnswer {
  reply(text: string): Promise<void>;
  finish(failed: boolean): Promise<void>;
}

/** Answers one click exactly once (the callback), plus any further replies as ephemeral follow-ups. */
export function answerClick(
  rest: REST,
  i: InteractionRef,
  opts: { deferAfterMs: number; log?: Log },
): ClickAnswer {
  let state: "open" | "deferred" | "answered" = "open";
  const serial = serializer();
  const ephemeral = (content: string) => ({
    content,
    flags: MessageFlags.Ephemeral,
    allowed_mentions: NO_MENTIONS,
  });

  async function say(text: string): Promise<void> {
    for (const content of contentChunks(text)) {
      // The state changes before the request: a failed callback is not retried as a second answer.
      if (state === "open") {
        state = "answered";
        await callback(rest, i, {
          type: InteractionResponseType.ChannelMessageWithSource,
          data: ephemeral(content),
        });
      } else {
        await followup(rest, i, ephemeral(content));
      }
    }
  }
  const ack = async (): Promise<void> => {
    if (state !== "open") return;
    state = "deferred";
    await callback(rest, i, { type: InteractionResponseType.DeferredMessageUpdate });
  };

  const timer = setTimeout(() => {
    serial(ack).catch(() => opts.log?.("discord.click_defer_failed", { interaction: i.id }));
  }, opts.deferAfterMs);
  timer.unref?.();

  return {
    reply: (text) => serial(() => say(text)),
    async finish(failed) {
      clearTimeout(timer);
      await serial(async () => {
        if (state !== "open") return;
        if (failed) await say("Sorry, something went wrong.");
        else await ack(); // the bot had nothing to say: acknowledge without showing anything
      });
    },
  };
}

interface PendingCommand {
  readonly chatId: string;
  readonly i: InteractionRef;
  readonly ephemeral: boolean;
  readonly deferred: Promise<boolean>;
  readonly expiresAt: number;
  readonly serial: <T>(f: () => Promise<T>) => Promise<T>;
  answered: boolean;
}

/** Routes the bot's replies to running slash commands; see the module comment. */
export function createCommandReplies(rest: REST, log?: Log) {
  const byChat = new Map<string, PendingCommand[]>();

  return {
    /**
     * Defers `i` right away and opens it for replies to `chatId`. `ephemeral`: the response (and
     * Discord's "used /command" header, whose options clients can reveal) is shown to the caller only.
     */
    begin(chatId: string, i: InteractionRef, opts: { ephemeral?: boolean } = {}): PendingCommand {
      const deferred = callback(rest, i, {
        type: InteractionResponseType.DeferredChannelMessageWithSource,
        ...(opts.ephemeral ? { data: { flags: MessageFlags.Ephemeral } } : {}),
      }).then(
        () => true,
        () => {
          log?.("discord.command_defer_failed", { interaction: i.id });
          return false;
        },
      );
      const cmd = {
        chatId,
        i,
        ephemeral: opts.ephemeral === true,
        deferred,
        expiresAt: Date.now() + TOKEN_LIFETIME_MS,
        serial: serializer(),
        answered: false,
      };
      byChat.set(chatId, [...(byChat.get(chatId) ?? []), cmd]);
      return cmd;
    },

    /**
     * Sends `content` (already escaped) as the response of the oldest running command in `chatId`;
     * the message id, or undefined when there is none or it failed (then the caller posts normally).
     */
    async trySend(chatId: string, content: string): Promise<string | undefined> {
      const cmd = byChat.get(chatId)?.find((c) => Date.now() < c.expiresAt);
      if (!cmd) return undefined;
      return cmd.serial(async () => {
        if (!(await cmd.deferred)) return undefined;
        const flags = MessageFlags.SuppressEmbeds | (cmd.ephemeral ? MessageFlags.Ephemeral : 0);
        const body = { content, allowed_mentions: NO_MENTIONS, flags };
        try {
          const m = cmd.answered
            ? await followup(rest, cmd.i, body)
            : ((await rest.patch(Routes.webhookMessage(cmd.i.applicationId, cmd.i.token, "@original"), {
                body,
                auth: false,
              })) as { id: string });
          cmd.answered = true;
          return m.id;
        } catch {
          log?.("discord.command_reply_failed", { interaction: cmd.i.id });
          return undefined;
        }
      });
    },

    /** Closes `cmd`; a command that never answered loses its "thinking…" placeholder. */
    async end(cmd: PendingCommand): Promise<void> {
      const others = (byChat.get(cmd.chatId) ?? []).filter((c) => c !== cmd);
      if (others.length > 0) byChat.set(cmd.chatId, others);
      else byChat.delete(cmd.chatId);
      await cmd.serial(async () => {
        if (cmd.answered || !(await cmd.deferred) || Date.now() >= cmd.expiresAt) return;
        await rest
          .delete(Routes.webhookMessage(cmd.i.applicationId, cmd.i.token, "@original"), { auth: false })
          .catch(() => log?.("discord.command_cleanup_failed", { interaction: cmd.i.id }));
      });
    },
  };
}

export type CommandReplies = ReturnType<typeof createCommandReplies>;
