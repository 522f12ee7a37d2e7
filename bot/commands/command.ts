/**
 * The shape every chat command implements, and what it gets to work with. Commands reach Warden only
 * through `ControlPort`; they check the sender's role with `need()` before acting, so a handler that
 * forgets a check is visible in review as a missing line rather than a hidden default.
 */
import type { Log } from "../../gateway/index.js";
import type { BotStore, Person, Role } from "../bot-store.js";
import type { Channel, InboundMessage } from "../channel.js";
import type { ChatApprover } from "../chat-approver.js";
import type { ControlPort } from "../control-port.js";
import type { LinkAttempts } from "../link-attempts.js";
import { authorize, UNKNOWN_PERSON_REPLY } from "../roles.js";

/** Everything commands share; built once by `createBot`. */
export interface BotDeps {
  readonly control: ControlPort;
  readonly store: BotStore;
  readonly log: Log;
  readonly approver: ChatApprover;
  readonly channels: ReadonlyMap<string, Channel>;
  readonly now: () => number;
  /** Base URL of the web chat, for invitation links; absent = tokens are shown as `/start TOKEN`. */
  readonly webBase?: string;
  /** Wrong `/link` codes so far, per sender and overall (guessing lockout). */
  readonly linkAttempts: LinkAttempts;
}

/** One command invocation. */
export interface CommandContext {
  readonly msg: InboundMessage;
  readonly channel: Channel;
  readonly person: Person | undefined;
  /** Whitespace-separated words after the command on its first line. */
  readonly args: readonly string[];
  /** The first line after the command, as typed (trimmed). */
  readonly argText: string;
  /** Everything after the first line. */
  readonly body: string;
  readonly deps: BotDeps;
  reply(text: string): Promise<void>;
}

export interface Command {
  readonly name: string;
  /** One line per form, shown by /help and on bad arguments. */
  readonly usage: string;
  /** True for the few commands unknown people may use (/start, /link CODE). */
  readonly open?: boolean;
  run(ctx: CommandContext): Promise<void>;
}

/** Refuses (and says why) unless the sender holds `role`. */
export async function need(ctx: CommandContext, role: Role): Promise<boolean> {
  const d = await authorize(ctx.deps.store, ctx.msg.from.id, role);
  if (d.ok) return true;
  ctx.deps.log("bot_refused", { by: ctx.msg.from.id, reason: d.reason, needed: role });
  await ctx.reply(
    d.reason === "unknown_person" ? UNKNOWN_PERSON_REPLY : `You need the ${role} role for that.`,
  );
  return false;
}

/** Replies with the usage of `cmd`; the one answer to malformed arguments. */
export async function usage(ctx: CommandContext, cmd: Command): Promise<void> {
  await ctx.reply(`Usage:\n${cmd.usage}`);
}

/** Bounds text we echo back from elsewhere (logs, errors) so a reply stays readable. */
export function clip(text: string, max = 3000): string {
  return text.length > max ? `…${text.slice(text.length - max)}` : text;
}

/** First line of an error message, bounded; never the stack. */
export function errorLine(err: unknown): string {
  return clip(String((err as Error)?.message ?? err).split("\n")[0] ?? "", 300);
}
