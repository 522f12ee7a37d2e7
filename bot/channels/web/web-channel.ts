/**
 * The built-in web chat channel: a small HTTP server on 127.0.0.1 serving one inline page.
 * Untrusted: every request (a browser on this machine, or a web page trying DNS rebinding or CSRF)
 * and all text in messages and cards (agents write some of it). Sign-in is only by a one-time token
 * link the bot verifies (`/claim/…`, `/invite/…`); there is no self-registration. We refuse requests
 * whose Host is not this server, and the page builds its DOM with textContent only, under a CSP that
 * allows no script but its own (see client-script.ts). `start()` listens; `listen()` does so early.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Address, Card, Channel, InboundEvent, SentRef } from "../../channel.js";
import { agentName } from "../agent-voice.js";
import { type ApprovalPages, createApprovalRoutes } from "./approval-routes.js";
import { CHAT_ID, ChatRoom } from "./chat-room.js";
import { type ConsoleAccess, createConsoleRoutes } from "./console-routes.js";
import { sendHtml, sendJson } from "./http-io.js";
import { chatPage, pairingPage, signInPage } from "./page.js";
import { WebSessions } from "./sessions.js";
import { createWebApi } from "./web-api.js";
import type { WebChatState } from "./web-chat-state.js";

/** The person a sign-in token stands for. */
export interface WebPerson {
  readonly userId: string;
  readonly name: string;
}

export type WebLog = (event: string, fields?: Record<string, unknown>) => void;

export interface WebChannelOptions {
  /** Interface to bind; Warden uses 127.0.0.1 only. */
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly log?: WebLog;
  /** Burns a one-time claim/invite token and returns its person, or undefined when it is not valid. */
  readonly verifyToken: (token: string) => Promise<WebPerson | undefined>;
  /**
   * Sessions (hashed ids) and chat history in the bot store, shared by replicas (web-chat-state.ts);
   * takes precedence over `sessionFile` and `historyFile`.
   */
  readonly state?: WebChatState;
  /** Where to keep sessions across restarts (mode 0600, hashed ids); memory only when absent. */
  readonly sessionFile?: string;
  /** Where to keep chat history across restarts (mode 0600); memory only when absent. */
  readonly historyFile?: string;
  readonly now?: () => number;
  /**
   * The WhatsApp pairing code (SVG) while one waits to be scanned, shown at `/pair/whatsapp` to
   * sessions `mayView` accepts (the owner): scanning it links a phone to this Warden.
   */
  readonly pairing?: { svg(): string | undefined; mayView(userId: string): Promise<boolean> };
  /**
   * The full-request pages at `/approvals/<id>` that every card links to: the bot decides who may
   * see and decide (approval-routes.ts). Absent: those paths are 404 for signed-in people.
   */
  readonly approvals?: ApprovalPages;
  /**
   * The operator console at `/console` (console-routes.ts): who may use it (owner and admins) and the
   * ControlPort it reads and edits. Absent: `/console` is 403 for everyone signed in.
   */
  readonly console?: ConsoleAccess;
}

/** The web channel plus its base URL (final after `listen()`/`start()`) and an explicit `listen()`. */
export type WebChannel = Channel & { readonly url: string; listen(): Promise<void> };

const TOKEN = /^[A-Za-z0-9._~-]{8,256}$/;
/** Outbound text is split into messages of at most this many characters. */
const MAX_OUT_CHARS = 20_000;

/** Creates the web chat channel. Nothing listens until `listen()` or `start()`. */
export function createWebChannel(options: WebChannelOptions): WebChannel {
  const log = options.log ?? (() => {});
  const sessions = new WebSessions({
    file: options.sessionFile,
    state: options.state,
    now: options.now,
    log,
  });
  const room = new ChatRoom(options.now, options.state ?? options.historyFile, log);
  let handler: ((event: InboundEvent) => Promise<void>) | undefined;
  let port = options.port;
  let listening: Promise<void> | undefined;

  const hosts = (): string[] =>
    [options.host, "127.0.0.1", "localhost", "[::1]"].map((h) => `${h.includes(":") ? `[${h}]` : h}:${port}`);
  const api = createWebApi({
    room,
    sessions,
    log,
    handler: () => handler,
    originAllowed: (origin) => hosts().some((h) => origin === `http://${h}`),
  });
  const approvalRoutes = createApprovalRoutes({
    pages: options.approvals,
    sessions,
    log,
    originAllowed: (origin) => hosts().some((h) => origin === `http://${h}`),
  });

  const consoleRoutes = createConsoleRoutes({
    access: options.console,
    sessions,
    log,
    originAllowed: (origin) => hosts().some((h) => origin === `http://${h}`),
  });

  async function claim(res: ServerResponse, token: string): Promise<void> {
    let person: WebPerson | undefined;
    try {
      person = TOKEN.test(token) ? await options.verifyToken(token) : undefined;
    } catch (err) {
      log("web.verify_failed", { err: String(err) });
    }
    if (person === undefined) return page(res, 403, false);
    const { setCookie } = sessions.create(person);
    // Stored before the browser follows the redirect, which may reach another replica.
    await sessions.flush();
    log("web.signed_in", { userId: person.userId });
    res.writeHead(303, {
      location: "/",
      "set-cookie": setCookie,
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    res.end();
  }

  function page(res: ServerResponse, status: number, signedIn: false | string): void {
    const nonce = randomBytes(16).toString("base64url");
    sendHtml(res, status, signedIn === false ? signInPage(nonce) : chatPage(nonce, signedIn), nonce);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS rebinding: a foreign site resolving to 127.0.0.1 still sends its own name as Host.
    if (!hosts().includes(req.headers.host ?? "")) return sendJson(res, 421, { error: "bad_host" });
    const path = (req.url ?? "/").split("?")[0]!;
    const session = await sessions.fromCookieHeader(req.headers.cookie);
    const claimMatch = /^\/(?:claim|invite)\/([^/]*)$/.exec(path);
    if (req.method === "GET" && claimMatch) return claim(res, claimMatch[1]!);
    if (req.method === "GET" && path === "/")
      return page(res, 200, session === undefined ? false : session.csrf);
    if (path === "/events" || path.startsWith("/api/")) return api(req, res, path, session);
    if (await approvalRoutes(req, res, path, session)) return;
    if (await consoleRoutes(req, res, path, session)) return;
    if (req.method === "GET" && path === "/pair/whatsapp") {
      const pairing = options.pairing;
      if (!session || !pairing || (await pairing.mayView(session.userId)) !== true)
        return page(res, 403, false);
      const nonce = randomBytes(16).toString("base64url");
      return sendHtml(res, 200, pairingPage(nonce, pairing.svg()), nonce);
    }
    sendJson(res, 404, { error: "not_found" });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      log("web.request_failed", { err: String(err) });
      if (!res.headersSent) sendJson(res, 500, { error: "internal" });
      else res.destroy();
    });
  });

  function listen(): Promise<void> {
    listening ??= (async () => {
      await sessions.load();
      await room.load();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port, options.host, () => {
          server.off("error", reject);
          port = (server.address() as AddressInfo).port;
          resolve();
        });
      });
      log("web.listening", { url: channel.url });
    })();
    return listening;
  }

  function chatOf(to: Address | SentRef): string {
    if (to.platform !== "web" || !CHAT_ID.test(to.chatId))
      throw new Error(`web channel: bad chat id ${to.chatId}`);
    return to.chatId;
  }

  const channel: WebChannel = {
    platform: "web",
    get url() {
      const h = options.host.includes(":") ? `[${options.host}]` : options.host;
      return `http://${h}:${port}`;
    },
    listen,
    async start(h) {
      handler = h;
      await listen();
    },
    async stop() {
      handler = undefined;
      const saved = room.close();
      if (listening !== undefined) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      await sessions.flush();
      await saved;
    },
    async sendText(to, text, opts) {
      const chatId = chatOf(to);
      // An agent's words carry its name: the page shows them under it, in the agent style, as text.
      const voice = opts?.agent === undefined ? {} : { agent: agentName(opts.agent) };
      let last: SentRef | undefined;
      for (let i = 0; i === 0 || i < text.length; i += MAX_OUT_CHARS) {
        const m = room.append(chatId, null, { text: text.slice(i, i + MAX_OUT_CHARS), ...voice });
        last = { platform: "web", chatId, messageId: m.id };
      }
      return last!;
    },
    async sendCard(to, card: Card) {
      const chatId = chatOf(to);
      const m = room.append(chatId, null, { card });
      return { platform: "web", chatId, messageId: m.id };
    },
    async updateCard(ref, card) {
      if (!room.replaceCard(chatOf(ref), ref.messageId, card))
        log("web.card_gone", { messageId: ref.messageId });
    },
    privateChat(userId) {
      return { platform: "web", chatId: `dm:${userId}` };
    },
    // Each agent gets its own thread in the sidebar, shared by everyone signed in here.
    agentThread(agent) {
      return { platform: "web", chatId: `agent:${agent}` };
    },
    async deleteMessage(ref) {
      room.remove(chatOf(ref), ref.messageId);
    },
  };
  return channel;
}
