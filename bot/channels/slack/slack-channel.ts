/**
 * Slack channel: Bolt in Socket Mode (default) or HTTP mode behind the `Channel` seam. Only files in
 * bot/channels/slack/ import @slack/bolt.
 *
 * Threat model. Slack vouches for user, channel and team ids (Socket Mode is an authenticated
 * socket; HTTP requests are checked against the signing secret by Bolt, bad signatures get 401).
 * Everything else (text, names, button values) is typed by people or agents and untrusted. So:
 * outbound text is escaped and sent with mrkdwn off, parse "none", no link names and no unfurls
 * (no @channel pings, forged links or fetches of agent-chosen URLs); cards are plain_text only
 * (blocks.ts); inbound markup is decoded to what was typed. Bot messages, edits, deletions and our
 * own messages are dropped: no person stands behind them. "Private" means the bot's own DM with
 * that person, checked with Slack (directory.ts), never assumed from a payload. Tap refusals go to
 * the tapper only (ephemeral). Tokens stay in headers; errors and logs are scrubbed (slack-api.ts).
 * Every envelope is acked at once and handled detached, so a slow handler (one waiting for the
 * approval tap) cannot stall delivery, and handler errors are logged, never thrown into Bolt.
 */
import { App, HTTPReceiver, SocketModeReceiver, webApi } from "@slack/bolt";
import type { Address, Card, Channel, InboundEvent, SentRef } from "../../channel.js";
import { oneLine } from "../text.js";
import { type AgentBlock, agentMessages } from "./agent-blocks.js";
import { cardMessage } from "./blocks.js";
import { createDirectory } from "./directory.js";
import { createInbound } from "./inbound.js";
import { boltLogger, call, humanError, type SlackLog, scrubber, webClientOptions } from "./slack-api.js";
import { escapeSlack, wireChunks } from "./slack-text.js";

export interface SlackChannelOptions {
  /** Bot token (`xoxb-…`). */
  readonly botToken: string;
  /** App-level token (`xapp-…`, scope connections:write); required in Socket Mode. */
  readonly appToken?: string;
  /** Default true. False: Bolt's HTTP receiver on `http`, checking `signingSecret`. */
  readonly socketMode?: boolean;
  readonly signingSecret?: string;
  /** HTTP mode listener; default 127.0.0.1:3000 (put a TLS proxy in front). Endpoint /slack/events. */
  readonly http?: { readonly host?: string; readonly port?: number };
  /** Web API root with trailing slash, e.g. a local fake; Socket Mode's connections.open uses it too. */
  readonly apiUrl?: string;
  /** Socket Mode start gives up after this long (ms). Default 30 000. */
  readonly startTimeoutMs?: number;
  readonly log?: SlackLog;
}

/** The Slack channel; `httpAddress()` is where HTTP mode listens once started. */
export interface SlackChannel extends Channel {
  httpAddress(): { host: string; port: number } | undefined;
}

/** Safe text limit per message (Slack accepts 40 000 but recommends ≤ 4 000). */
export const SLACK_TEXT_LIMIT = 4000;
/** Slash commands post no message; their refs carry this prefix and deleting them is a no-op. */
const COMMAND_REF = "slash-command:";

export function createSlackChannel(options: SlackChannelOptions): SlackChannel {
  const { botToken, appToken, log } = options;
  const socketMode = options.socketMode ?? true;
  if (socketMode && !appToken) throw new Error("Slack Socket Mode needs an app-level token (xapp-…)");
  if (!socketMode && !options.signingSecret) throw new Error("Slack HTTP mode needs the signing secret");
  const scrub = scrubber([botToken, appToken, options.signingSecret]);
  const logger = boltLogger(log, scrub);
  const client = new webApi.WebClient(botToken, webClientOptions(options.apiUrl, logger));
  const ctx = { scrub, log };
  const api = <T>(method: string, fn: () => Promise<T>): Promise<T> => call(method, fn, ctx);

  const directory = createDirectory({
    async open(user) {
      const res = await api("conversations.open", () => client.conversations.open({ users: user }));
      if (!res.channel?.id) throw new Error("Slack conversations.open failed: no channel in the answer");
      return res.channel.id;
    },
    async info(channel) {
      const res = await api("conversations.info", () => client.conversations.info({ channel }));
      const user = (res.channel as { user?: unknown } | undefined)?.user; // set on IMs, absent from the type
      return { isIm: res.channel?.is_im === true, ...(typeof user === "string" ? { user } : {}) };
    },
  });

  let running: (() => Promise<void>) | undefined; // stops the receiver of the current start()
  let generation = 0;
  let httpAddr: { host: string; port: number } | undefined;

  async function post(
    to: Address,
    text: string,
    blocks?: ReturnType<typeof cardMessage>["blocks"] | readonly AgentBlock[],
  ) {
    if (to.platform !== "slack") throw new Error(`Slack channel cannot send to ${to.platform}`);
    const channel = await directory.channelFor(to.chatId);
    const res = await api("chat.postMessage", () =>
      client.chat.postMessage({
        channel,
        text,
        ...(blocks ? { blocks } : {}),
        ...(to.threadId ? { thread_ts: to.threadId } : {}),
        mrkdwn: false,
        parse: "none",
        link_names: false,
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    if (!res.ts) throw new Error("Slack chat.postMessage failed: no ts in the answer");
    return { platform: "slack", chatId: to.chatId, messageId: res.ts } satisfies SentRef;
  }

  async function ephemeral(channel: string, user: string, text: string): Promise<void> {
    const [first = " "] = wireChunks(text, SLACK_TEXT_LIMIT);
    await api("chat.postEphemeral", () => client.chat.postEphemeral({ channel, user, text: first }));
  }

  function receiverFor(): { receiver: SocketModeReceiver | HTTPReceiver; stop: () => Promise<void> } {
    const clientOptions = { ...(options.apiUrl ? { slackApiUrl: options.apiUrl } : {}), logger };
    if (socketMode) {
      const receiver = new SocketModeReceiver({
        appToken: appToken as string,
        logger,
        installerOptions: { clientOptions },
      });
      return { receiver, stop: () => receiver.client.disconnect() };
    }
    const receiver = new HTTPReceiver({
      signingSecret: options.signingSecret as string,
      logger,
      endpoints: "/slack/events",
      processBeforeResponse: false, // ack first, then handle: Slack gives up after 3 s
    });
    return { receiver, stop: () => receiver.stop() };
  }

  return {
    platform: "slack",
    async start(onEvent) {
      if (running) throw new Error("Slack channel already started");
      const auth = await api("auth.test", () => client.auth.test());
      if (!auth.user_id) throw new Error("Slack auth.test failed: no bot user id (is this a bot token?)");
      const { receiver, stop } = receiverFor();
      const app = new App({
        token: botToken,
        botUserId: auth.user_id,
        ...(auth.bot_id ? { botId: auth.bot_id } : {}),
        tokenVerificationEnabled: false, // we ran auth.test above, with our error mapping
        receiver,
        socketMode,
        logger,
        convoStore: false,
        clientOptions: { ...(options.apiUrl ? { slackApiUrl: options.apiUrl } : {}), logger },
      });
      const gen = ++generation;
      createInbound(app, {
        botUserId: auth.user_id,
        directory,
        log,
        scrub,
        ephemeral,
        // A late envelope from a stopped (or replaced) app reaches nobody.
        deliver: (event: InboundEvent) => (gen === generation ? onEvent(event) : Promise.resolve()),
        commandRef: (n) => `${COMMAND_REF}${n}`,
      });
      app.error(async (err) => log?.("slack.bolt_error", { error: scrub(String(err)) }));
      try {
        const host = options.http?.host ?? "127.0.0.1";
        const started = socketMode ? app.start() : app.start({ port: options.http?.port ?? 3000, host });
        const server = await withTimeout(started, options.startTimeoutMs ?? 30_000);
        const address = socketMode ? undefined : (server as { address(): unknown }).address();
        if (address && typeof address === "object")
          httpAddr = { host, port: (address as { port: number }).port };
      } catch (err) {
        generation++;
        await stop().catch(() => undefined);
        throw humanError(socketMode ? "apps.connections.open" : "listen", err, scrub);
      }
      running = stop;
      log?.("slack.started", { botUserId: auth.user_id, socketMode });
    },
    async stop() {
      generation++;
      const r = running;
      running = undefined;
      httpAddr = undefined;
      await r?.().catch((err: unknown) => log?.("slack.stop_error", { error: scrub(String(err)) }));
    },
    async sendText(to, text, opts) {
      let last: SentRef | undefined;
      if (opts?.agent !== undefined)
        for (const m of agentMessages(opts.agent, text)) last = await post(to, m.text, m.blocks);
      else for (const chunk of wireChunks(text, SLACK_TEXT_LIMIT)) last = await post(to, chunk);
      if (!last) throw new Error("Slack chat.postMessage: refusing to send an empty message");
      return last;
    },
    async sendCard(to, card) {
      const { text, blocks } = cardMessage(card);
      return post(to, text, blocks);
    },
    async updateCard(ref, card: Card) {
      const { text, blocks } = cardMessage(card); // no buttons → no actions block
      const channel = await directory.channelFor(ref.chatId);
      await api("chat.update", () => client.chat.update({ channel, ts: ref.messageId, text, blocks }));
    },
    privateChat(userId) {
      return { platform: "slack", chatId: userId };
    },
    async timeZoneOf(userId) {
      // users.info tells each user's IANA zone (quiet hours without tz=); the caller validates it.
      const res = await api("users.info", () => client.users.info({ user: userId }));
      const tz = (res.user as { tz?: unknown } | undefined)?.tz;
      return typeof tz === "string" ? tz : undefined;
    },
    async agentThread(agent, startedFrom) {
      if (startedFrom.threadId) return startedFrom; // Slack threads do not nest: stay in this one
      const root = await post(
        startedFrom,
        escapeSlack(`Agent ${oneLine(agent, 64)}: talk to it in this thread.`),
      );
      return { ...startedFrom, threadId: root.messageId };
    },
    async deleteMessage(ref) {
      if (ref.messageId.startsWith(COMMAND_REF)) return; // a slash command's text is never posted
      const channel = await directory.channelFor(ref.chatId);
      await api("chat.delete", () => client.chat.delete({ channel, ts: ref.messageId }));
    },
    httpAddress: () => httpAddr,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error("start timed out"), { name: "TimeoutError" })),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
