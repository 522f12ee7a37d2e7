/**
 * The chat bot's composition: channels in, router and approver in the middle, Warden reached only
 * through `ControlPort`. Threat model: a channel vouches for who sent an event, but only for its own
 * platform; an event whose sender or chat claims another platform is dropped, so one compromised or
 * buggy adapter cannot speak for people on another. Handler errors are logged, never thrown back.
 */
import type { Approver, Log, RoleResolver } from "../gateway/index.js";
import type { MailboxEvents } from "../gateway/index.js";
import { createAgentRelay } from "./agent-relay.js";
import type { BotStore } from "./bot-store.js";
import type { Channel, InboundEvent } from "./channel.js";
import { type ChatApprover, createChatApprover } from "./chat-approver.js";
import type { ControlPort } from "./control-port.js";
import { createLinkAttempts } from "./link-attempts.js";
import { createRoleResolver } from "./roles.js";
import { createRouter } from "./router.js";

export interface BotOptions {
  readonly channels: readonly Channel[];
  /** Or a getter, when the ControlPort can only be built after the gateway that needs this bot. */
  readonly control: ControlPort | (() => ControlPort);
  readonly store: BotStore;
  readonly log: Log;
  /** The bot's username, so `/cmd@otherbot` in groups is left alone. */
  readonly botName?: string;
  /** Web chat base URL, used in invitation links. */
  readonly webBase?: string;
  /** The web chat's URL, read whenever a card is built: every card links to `<url>/approvals/<id>`. */
  readonly webUrl?: () => string | undefined;
  readonly now?: () => number;
  /** Held requests of one agent and policy this close together share one card (default 5000; 0: never). */
  readonly batchWindowMs?: number;
  /** Timers for cards waiting out quiet hours; tests pass a fake clock's (default: setTimeout). */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
}

export interface Bot {
  /**
   * Starts every channel. One platform failing (a revoked token, an unreachable API) does not stop
   * the others: its error is logged and returned, and cards for people only reachable there fail
   * to send, so their approvals fail closed.
   */
  start(): Promise<{ platform: string; error: string }[]>;
  stop(): Promise<void>;
  /** Pass to `startGateway({ approver })`. */
  readonly approver: ChatApprover & Approver;
  /** Pass to `startGateway({ roles })`. */
  readonly roles: RoleResolver & { hasRole(id: string, role: string): Promise<boolean> };
  /** Pass to `startGateway({ mailboxEvents })` (merge with the agent manager's hooks). */
  readonly mailboxEvents: MailboxEvents & { flush(): Promise<void> };
  /** A fresh one-time owner claim link (`<base>/claim/<token>`), or null once someone owns this Warden. */
  claimUrl(base: string): Promise<string | null>;
  /** Handles one event as if `channel` delivered it (what `start` wires up; also for tests). */
  handle(channel: Channel, event: InboundEvent): Promise<void>;
}

const CLAIM_TTL_MS = 7 * 24 * 3600_000;

/** Builds the bot. Nothing is received until `start()`. */
export function createBot(opts: BotOptions): Bot {
  const { store, log } = opts;
  const control = typeof opts.control === "function" ? late(opts.control) : opts.control;
  const now = opts.now ?? Date.now;
  const channels = new Map<string, Channel>();
  for (const c of opts.channels) {
    if (channels.has(c.platform)) throw new Error(`two channels for platform ${c.platform}`);
    channels.set(c.platform, c);
  }
  const roles = createRoleResolver(store);
  const approver = createChatApprover({
    channels,
    control,
    store,
    roles,
    log,
    now,
    webBase: opts.webUrl,
    batchWindowMs: opts.batchWindowMs,
    schedule: opts.schedule,
  });
  const mailboxEvents = createAgentRelay({ channels, store, log, now });
  const route = createRouter(
    {
      control,
      store,
      log,
      approver,
      channels,
      now,
      webBase: opts.webBase,
      linkAttempts: createLinkAttempts(now),
    },
    { botName: opts.botName },
  );

  async function handle(channel: Channel, event: InboundEvent): Promise<void> {
    const p = channel.platform;
    if (!event.from.id.startsWith(`${p}:`) || event.chat.platform !== p || event.ref.platform !== p) {
      log("bot_event_dropped", { platform: p, reason: "platform_mismatch" });
      return;
    }
    try {
      if (event.kind === "action") await approver.handleAction(event);
      else await route(channel, event);
    } catch (err) {
      log("bot_event_failed", { platform: p, kind: event.kind, error: (err as Error).name });
    }
  }

  return {
    approver,
    roles,
    mailboxEvents,
    handle,
    async start() {
      const failed: { platform: string; error: string }[] = [];
      for (const c of channels.values()) {
        try {
          await c.start((event) => handle(c, event));
        } catch (err) {
          const error =
            String((err as Error).message ?? err)
              .split("\n")[0]
              ?.slice(0, 300) ?? "";
          failed.push({ platform: c.platform, error });
          log("bot_channel_failed", { platform: c.platform, error });
        }
      }
      log("bot_started", {
        channels: [...channels.keys()].filter((p) => !failed.some((f) => f.platform === p)),
      });
      return failed;
    },
    async stop() {
      approver.stop();
      for (const c of channels.values()) await c.stop().catch(() => undefined);
      await mailboxEvents.flush();
    },
    async claimUrl(base: string): Promise<string | null> {
      if ((await store.listPeople()).some((p) => p.role === "owner")) return null;
      const token = await store.issueToken("claim", { ttlMs: CLAIM_TTL_MS });
      // The web chat serves /claim/TOKEN: it burns the token and signs the browser in as the owner.
      return `${base.replace(/\/$/, "")}/claim/${token}`;
    },
  };
}

/** A ControlPort that resolves `get()` on each use; calling before it is ready throws (fail closed). */
function late(get: () => ControlPort): ControlPort {
  return new Proxy({} as ControlPort, {
    get(_target, key) {
      const port = get() as unknown as Record<string | symbol, unknown>;
      const value = port[key];
      return typeof value === "function" ? value.bind(port) : value;
    },
  });
}
