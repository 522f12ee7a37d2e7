/**
 * The runner's main loop: wait for chat messages, hand each to the brain, post the reply. A failing
 * message never stops the loop: the human gets "error: …" and the agent goes back to listening,
 * because a runner that exits takes the whole agent down over one bad request.
 */
import type { Brain, Tools } from "./brain.js";
import type { InboxMessage, MailboxClient } from "./mailbox-client.js";

/** Options for {@link runLoop}. */
export interface RunLoopOptions {
  readonly mailbox: MailboxClient;
  readonly brain: Brain;
  readonly tools: Tools;
  /** Stops the loop (SIGTERM); an in-flight long-poll is cut at once. */
  readonly signal: AbortSignal;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Long-poll length; default 25 s (the gateway caps it at 30). */
  readonly waitSeconds?: number;
  /** Pause after an unexpected inbox failure; default 1 s. */
  readonly retryMs?: number;
}

/** Runs until `signal` aborts. Resolves then; never rejects for a message's failure. */
export async function runLoop(options: RunLoopOptions): Promise<void> {
  const { mailbox, tools, signal, log = () => {}, waitSeconds = 25, retryMs = 1_000 } = options;
  let idle = false;
  while (!signal.aborted) {
    if (!idle) {
      await tools.status("idle");
      idle = true;
    }
    let messages: InboxMessage[];
    try {
      messages = await mailbox.inbox(waitSeconds, signal);
    } catch (err) {
      if (signal.aborted) break;
      // The mailbox already retries connection failures; this is a protocol surprise. Slow down.
      log("inbox_failed", { error: errorText(err) });
      await new Promise((r) => setTimeout(r, retryMs));
      continue;
    }
    for (const message of messages) {
      if (signal.aborted) break;
      idle = false;
      await handleOne(options, message, log);
    }
  }
}

async function handleOne(
  { mailbox, brain, tools }: RunLoopOptions,
  message: InboxMessage,
  log: (event: string, fields: Record<string, unknown>) => void,
): Promise<void> {
  await tools.status("thinking");
  let reply: string;
  try {
    reply = await brain.handle(message, tools);
  } catch (err) {
    const text = errorText(err);
    log("message_failed", { id: message.id, error: text });
    await safely(() => mailbox.reply(`error: ${text}`, message.id), log);
    await tools.status("error", text);
    return;
  }
  const sent = await safely(() => mailbox.reply(reply, message.id), log);
  await tools.status(sent ? "done" : "error", sent ? undefined : "could not post the reply");
}

async function safely(
  fn: () => Promise<void>,
  log: (event: string, fields: Record<string, unknown>) => void,
): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    log("reply_failed", { error: errorText(err) });
    return false;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
