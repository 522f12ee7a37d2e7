/**
 * Carries agent output back to chat: outbox replies, questions (`ask`) and error statuses go to every
 * chat the agent is bound to. Agent text is untrusted: it goes out as the agent's (`sendText` with
 * `{ agent }`), so every channel shows it under the agent's name and style and nobody mistakes it for
 * Warden speaking; it is tidied (blank lines collapsed) and bounded; the gateway already capped its size.
 */
import type { Log } from "../gateway/index.js";
import type { MailboxEvents } from "../gateway/index.js";
import type { BotStore } from "./bot-store.js";
import type { Address, Channel } from "./channel.js";
import { tidyAgentText } from "./channels/agent-voice.js";

export interface AgentRelayOptions {
  readonly channels: ReadonlyMap<string, Channel>;
  readonly store: BotStore;
  readonly log: Log;
  readonly now?: () => number;
}

const MAX_RELAY_CHARS = 32 * 1024;
/** Platforms show "typing…" for about 5 s; refreshing more often only costs API calls. */
const TYPING_EVERY_MS = 4000;

/** Mailbox events that post agent output to the agent's bound chats. */
export function createAgentRelay({ channels, store, log, now = Date.now }: AgentRelayOptions): Required<
  Pick<MailboxEvents, "outbox" | "ask" | "status">
> & {
  flush(): Promise<void>;
} {
  // Mailbox events are synchronous callbacks; keep each agent's messages in order with one chain.
  let chain: Promise<void> = Promise.resolve();

  /** `voice`: whose words these are. The agent's are tidied and shown as its own on every platform. */
  function post(agent: string, text: string, voice: "agent" | "warden"): void {
    const tidy = voice === "agent" ? tidyAgentText(text) : text;
    const body = tidy.length > MAX_RELAY_CHARS ? `${tidy.slice(0, MAX_RELAY_CHARS)}…` : tidy;
    const opts = voice === "agent" ? { agent } : undefined;
    // The bound chats are read in the chain too (the store is async), so order stays per call.
    chain = chain.then(async () => {
      const targets = await store.bindingsOf(agent).catch((err: unknown) => {
        log("bot_relay_failed", { agent, error: (err as Error).name });
        return undefined;
      });
      if (!targets) return;
      if (targets.length === 0) return void log("bot_relay_unbound", { agent });
      if (tidy === "") return void log("bot_relay_empty", { agent });
      for (const to of targets) {
        await channels
          .get(to.platform)
          ?.sendText(to, body, opts)
          .catch((err: unknown) =>
            log("bot_relay_failed", { agent, platform: to.platform, error: (err as Error).name }),
          );
      }
    });
  }

  const lastTyping = new Map<string, number>();
  /** Typing hints still reading the agent's bound chats. */
  const hints = new Set<Promise<void>>();
  /** `t`: when the status arrived (the bound chats are read after it). */
  function typing(agent: string, to: Address, t: number): void {
    const channel = channels.get(to.platform);
    const key = `${to.platform}\u0000${to.chatId}\u0000${to.threadId ?? ""}`;
    if (!channel?.typing || t - (lastTyping.get(key) ?? Number.NEGATIVE_INFINITY) < TYPING_EVERY_MS) return;
    lastTyping.set(key, t);
    if (lastTyping.size > 1000) lastTyping.delete(lastTyping.keys().next().value as string);
    channel
      .typing(to)
      .catch((err: unknown) =>
        log("bot_typing_failed", { agent, platform: to.platform, error: (err as Error).name }),
      );
  }

  return {
    outbox(msg) {
      post(msg.agent, msg.text, "agent");
    },
    ask(ask) {
      // The question is the agent's; how to answer it is Warden's, in its own message.
      post(ask.agent, `Question: ${ask.question}`, "agent");
      post(
        ask.agent,
        `${ask.agent} asked a question. Answer with: /agent answer ${ask.agent} ${ask.id} YOUR ANSWER`,
        "warden",
      );
    },
    status(agent, status) {
      // Failures are worth a message; "thinking" becomes a typing indicator where the platform has
      // one (a message per step would flood the chat), at most one per chat every few seconds.
      // The agent reports its own errors: its words, in its voice.
      if (status.state === "error")
        post(agent, `Error${status.detail ? `: ${status.detail}` : "."}`, "agent");
      // Mailbox events are synchronous callbacks: the typing hint waits for the bound chats on its
      // own (never behind queued messages); `flush` waits for it too. Errors are logged.
      if (status.state === "thinking") {
        const at = now();
        const p = store
          .bindingsOf(agent)
          .then((targets) => {
            for (const to of targets) typing(agent, to, at);
          })
          .catch((err: unknown) => log("bot_typing_failed", { agent, error: (err as Error).name }));
        hints.add(p);
        void p.finally(() => hints.delete(p));
      }
    },
    /** Resolves once everything posted so far has been sent (tests, shutdown). */
    flush: async () => {
      await Promise.all([chain, ...hints]);
    },
  };
}
