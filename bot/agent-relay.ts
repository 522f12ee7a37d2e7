/**
 * Carries agent output back to chat: outbox replies, questions (`ask`) and error statuses go to every
 * chat the agent is bound to. Agent text is untrusted: it is labelled with the agent's name so nobody
 * mistakes it for Warden speaking, and bounded; the gateway already capped its size.
 */
import type { Log } from "../gateway/index.js";
import type { MailboxEvents } from "../gateway/index.js";
import type { BotStore } from "./bot-store.js";
import type { Channel } from "./channel.js";

export interface AgentRelayOptions {
  readonly channels: ReadonlyMap<string, Channel>;
  readonly store: BotStore;
  readonly log: Log;
}

const MAX_RELAY_CHARS = 32 * 1024;

/** Mailbox events that post agent output to the agent's bound chats. */
export function createAgentRelay({ channels, store, log }: AgentRelayOptions): Required<
  Pick<MailboxEvents, "outbox" | "ask" | "status">
> & {
  flush(): Promise<void>;
} {
  // Mailbox events are synchronous callbacks; keep each agent's messages in order with one chain.
  let chain: Promise<void> = Promise.resolve();

  function post(agent: string, text: string): void {
    const targets = store.bindingsOf(agent);
    if (targets.length === 0) return void log("bot_relay_unbound", { agent });
    const body = text.length > MAX_RELAY_CHARS ? `${text.slice(0, MAX_RELAY_CHARS)}…` : text;
    chain = chain.then(async () => {
      for (const to of targets) {
        await channels
          .get(to.platform)
          ?.sendText(to, body)
          .catch((err: unknown) =>
            log("bot_relay_failed", { agent, platform: to.platform, error: (err as Error).name }),
          );
      }
    });
  }

  return {
    outbox(msg) {
      post(msg.agent, `${msg.agent}: ${msg.text}`);
    },
    ask(ask) {
      post(
        ask.agent,
        `${ask.agent} asks: ${ask.question}\nAnswer with: /agent answer ${ask.agent} ${ask.id} YOUR ANSWER`,
      );
    },
    status(agent, status) {
      // Only failures are worth a message; progress states would flood the chat.
      if (status.state === "error")
        post(agent, `${agent} hit an error${status.detail ? `: ${status.detail}` : "."}`);
    },
    /** Resolves once everything posted so far has been sent (tests, shutdown). */
    flush: () => chain,
  };
}
