/**
 * The signed-in half of the web chat: `/api/*` and `/events`. Everything arriving here is untrusted
 * person input. We require a session cookie; for POSTs also a same-origin `Origin` (when sent) and the
 * session's CSRF token in `x-warden-csrf`. Bodies are size-capped (text ≤ 100 KB, else 413), fields
 * are type- and shape-checked, a person may only write to chats `canSee` allows, and a button tap
 * counts only if the card currently shows a button with exactly that data.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InboundEvent, SentRef } from "../../channel.js";
import { CHAT_ID, type ChatRoom, canSee, type StoredMessage } from "./chat-room.js";
import { readJsonBody, sendJson } from "./http-io.js";
import { type WebSession, WebSessions } from "./sessions.js";

export const MAX_TEXT_BYTES = 100 * 1024;
// JSON escaping can grow text up to 6x (control characters become \u00XX).
const MAX_SEND_BODY = 6 * MAX_TEXT_BYTES + 1024;
const MAX_ACTION_BODY = 4 * 1024;
const MAX_DATA_BYTES = 64;
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,32}$/;
const MAX_TOAST_CHARS = 2000;

export interface WebApiDeps {
  readonly room: ChatRoom;
  readonly sessions: WebSessions;
  /** True for an `Origin` header naming this server. */
  readonly originAllowed: (origin: string) => boolean;
  readonly handler: () => ((event: InboundEvent) => Promise<void>) | undefined;
  readonly log: (event: string, fields?: Record<string, unknown>) => void;
}

/** Builds the request handler for `/api/*` and `/events`; `session` is already resolved (or undefined). */
export function createWebApi(deps: WebApiDeps) {
  const { room, sessions, log } = deps;

  function dispatch(event: InboundEvent): boolean {
    const handler = deps.handler();
    if (handler === undefined) return false;
    void Promise.resolve()
      .then(() => handler(event))
      .catch((err: unknown) => log("web.handler_error", { kind: event.kind, err: String(err) }));
    return true;
  }

  function refOf(m: StoredMessage): SentRef {
    return { platform: "web", chatId: m.chatId, messageId: m.id };
  }

  async function send(req: IncomingMessage, res: ServerResponse, session: WebSession): Promise<void> {
    const body = await readJsonBody(req, MAX_SEND_BODY);
    if (!body.ok) return sendJson(res, body.status, { error: "bad_body" }, { connection: "close" });
    const { chatId, text } = (body.value ?? {}) as { chatId?: unknown; text?: unknown };
    if (typeof chatId !== "string" || typeof text !== "string")
      return sendJson(res, 400, { error: "bad_fields" });
    if (Buffer.byteLength(text) > MAX_TEXT_BYTES) return sendJson(res, 413, { error: "text_too_long" });
    if (text.trim() === "") return sendJson(res, 400, { error: "empty_text" });
    if (!visible(session, chatId)) return sendJson(res, 404, { error: "no_such_chat" });
    if (deps.handler() === undefined) return sendJson(res, 503, { error: "not_started" });
    const from = { id: `web:${session.userId}`, name: session.name };
    const stored = room.append(chatId, from, { text });
    dispatch({
      kind: "message",
      from,
      chat: { platform: "web", chatId },
      isPrivate: chatId.startsWith("dm:"),
      mentioned: true,
      text,
      ref: refOf(stored),
    });
    sendJson(res, 202, { messageId: stored.id });
  }

  async function action(req: IncomingMessage, res: ServerResponse, session: WebSession): Promise<void> {
    const body = await readJsonBody(req, MAX_ACTION_BODY);
    if (!body.ok) return sendJson(res, body.status, { error: "bad_body" }, { connection: "close" });
    const { chatId, messageId, data } = (body.value ?? {}) as Record<string, unknown>;
    if (typeof chatId !== "string" || typeof messageId !== "string" || typeof data !== "string")
      return sendJson(res, 400, { error: "bad_fields" });
    if (!MESSAGE_ID.test(messageId) || Buffer.byteLength(data) > MAX_DATA_BYTES)
      return sendJson(res, 400, { error: "bad_fields" });
    const message = visible(session, chatId) ? room.find(chatId, messageId) : undefined;
    if (message?.card === undefined) return sendJson(res, 404, { error: "no_such_card" });
    if (!message.card.buttons.some((b) => b.data === data))
      return sendJson(res, 409, { error: "no_such_button" });
    const ok = dispatch({
      kind: "action",
      from: { id: `web:${session.userId}`, name: session.name },
      chat: { platform: "web", chatId },
      data,
      ref: refOf(message),
      reply: async (text: string) => room.toast(session, text.slice(0, MAX_TOAST_CHARS)),
    });
    sendJson(res, ok ? 202 : 503, ok ? {} : { error: "not_started" });
  }

  function visible(session: WebSession, chatId: string): boolean {
    if (!CHAT_ID.test(chatId) || !canSee(session.userId, chatId)) return false;
    // Agent chats exist once the bot has sent to them; people cannot invent new ones.
    return chatId.startsWith("dm:") || room.hasChat(chatId);
  }

  return async function webApi(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    session: WebSession | undefined,
  ): Promise<void> {
    if (session === undefined) return sendJson(res, 401, { error: "signed_out" });
    if (req.method === "GET" && path === "/events") return room.listen(session, res);
    if (req.method === "GET" && path === "/api/state") return sendJson(res, 200, room.snapshot(session));
    if (req.method !== "POST") return sendJson(res, 404, { error: "not_found" });
    const origin = req.headers.origin;
    if (origin !== undefined && !deps.originAllowed(origin))
      return sendJson(res, 403, { error: "bad_origin" });
    if (!sessions.checkCsrf(session, req.headers["x-warden-csrf"]))
      return sendJson(res, 403, { error: "csrf" });
    if (path === "/api/send") return send(req, res, session);
    if (path === "/api/action") return action(req, res, session);
    if (path === "/api/signout") {
      sessions.remove(session);
      room.drop(session);
      await sessions.flush(); // the row is gone before the page hears so (other replicas re-check it)
      return sendJson(res, 200, {}, { "set-cookie": WebSessions.clearCookie() });
    }
    sendJson(res, 404, { error: "not_found" });
  };
}
