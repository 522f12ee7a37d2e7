/**
 * A fake Webex REST API on 127.0.0.1 (`/v1`) for our own client, and Webex's side of webhooks: people
 * write and press card buttons here, and the fake POSTs the envelopes Webex sends (ids only, signed
 * `X-Spark-Signature` = hex HMAC-SHA1 with each webhook's secret) to the registered target URLs.
 * It enforces what the platform does: the bot token, membership of rooms (only members see, post or
 * press), the text limit (7439 bytes), one Adaptive Card ≤ 1.3 with a text/markdown fallback, no
 * edits of messages with attachments, deletes of the bot's own messages only.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type RawAnswer, rawPost } from "./webhook-client.js";

export const WEBEX_BOT = { id: "bot-person-1", displayName: "Warden", emails: ["warden@webex.bot"] };

export interface FakeWebexMessage {
  readonly id: string;
  readonly roomId: string;
  readonly roomType: "direct" | "group";
  readonly personId: string;
  readonly created: string;
  text?: string;
  markdown?: string;
  attachments?: { contentType: string; content: AdaptiveContent }[];
  deleted?: boolean;
}
export interface AdaptiveContent {
  version: string;
  body: { type: string; text?: string; items?: unknown[] }[];
  actions?: { type: string; title: string; data?: unknown; url?: string }[];
}
interface Room {
  readonly id: string;
  readonly type: "direct" | "group";
  readonly members: Set<string>;
}
export interface Delivery {
  readonly answer: RawAnswer;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export const sparkSignature = (secret: string, body: string): string =>
  createHmac("sha1", secret).update(body).digest("hex");

export interface FakeWebex {
  readonly url: string;
  readonly token: string;
  readonly messages: FakeWebexMessage[];
  readonly webhooks: { id: string; targetUrl: string; resource: string; secret: string }[];
  /** Calls received, `METHOD /path` (no query). */
  readonly calls: string[];
  /** The direct room of the bot and `personId` (created on first use). */
  directRoom(personId: string): string;
  /** A group room with these members (and the bot). */
  groupRoom(id: string, members: readonly string[]): string;
  /** `personId` writes `text` (in their direct room unless `roomId`); the messages webhook fires. */
  say(personId: string, text: string, o?: { roomId?: string; mention?: boolean }): Promise<Delivery[]>;
  /**
   * `personId` creates an attachment action with `inputs` on `messageId`: a press of a card button,
   * or (Webex's POST /attachment/actions is open to any member) one crafted by hand on any message
   * the person can see. Throws where Webex would not let them (not in that room).
   */
  press(
    personId: string,
    messageId: string,
    data: unknown,
    envelope?: Record<string, unknown>,
  ): Promise<Delivery[]>;
  /** Posts an envelope to every webhook for `resource`, signed unless told otherwise. */
  deliver(
    resource: string,
    data: Record<string, unknown>,
    o?: { secret?: string; unsigned?: boolean; created?: string },
  ): Promise<Delivery[]>;
  /** The next `n` API calls are answered 429 with `Retry-After: 1`, as Webex throttles. */
  throttle(n: number): void;
  /** The bot's live (not deleted) messages in a room, oldest first. */
  inRoom(roomId: string): FakeWebexMessage[];
  close(): Promise<void>;
}

export async function startFakeWebex(o: { token?: string } = {}): Promise<FakeWebex> {
  const token = o.token ?? "webex-bot-token-for-tests";
  const messages: FakeWebexMessage[] = [];
  const actions = new Map<string, Record<string, unknown>>();
  const rooms = new Map<string, Room>();
  const webhooks: FakeWebex["webhooks"] = [];
  const calls: string[] = [];
  let next = 1;
  let throttled = 0;
  const id = (kind: string) => `${kind}-${next++}`;
  const now = () => new Date().toISOString();

  function directRoom(personId: string): string {
    const rid = `direct-${personId}`;
    if (!rooms.has(rid))
      rooms.set(rid, { id: rid, type: "direct", members: new Set([WEBEX_BOT.id, personId]) });
    return rid;
  }
  const visible = (m: FakeWebexMessage | undefined, who: string) =>
    m && !m.deleted && rooms.get(m.roomId)?.members.has(who) ? m : undefined;

  function send(res: ServerResponse, status: number, body?: unknown): void {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }
  const fail = (res: ServerResponse, status: number, message: string) => send(res, status, { message });

  function postMessage(res: ServerResponse, b: Record<string, unknown>) {
    const to = ["roomId", "toPersonId"].filter((k) => typeof b[k] === "string");
    if (to.length !== 1) return fail(res, 400, "exactly one of roomId, toPersonId");
    const roomId = typeof b.toPersonId === "string" ? directRoom(b.toPersonId) : String(b.roomId);
    const room = rooms.get(roomId);
    if (!room?.members.has(WEBEX_BOT.id)) return fail(res, 404, "room not found");
    const text = typeof b.text === "string" ? b.text : undefined;
    const markdown = typeof b.markdown === "string" ? b.markdown : undefined;
    if (text === undefined && markdown === undefined) return fail(res, 400, "text or markdown required");
    for (const t of [text, markdown])
      if (t !== undefined && Buffer.byteLength(t) > 7439) return fail(res, 400, "message too long");
    const attachments = b.attachments as FakeWebexMessage["attachments"];
    if (attachments !== undefined) {
      const card = attachments[0];
      if (attachments.length !== 1 || card?.contentType !== "application/vnd.microsoft.card.adaptive")
        return fail(res, 400, "one adaptive card attachment");
      if (!["1.0", "1.1", "1.2", "1.3"].includes(card.content.version)) return fail(res, 400, "card version");
    }
    const m: FakeWebexMessage = {
      id: id("msg"),
      roomId,
      roomType: room.type,
      personId: WEBEX_BOT.id,
      created: now(),
      ...(text !== undefined ? { text } : {}),
      ...(markdown !== undefined ? { markdown } : {}),
      ...(attachments ? { attachments } : {}),
    };
    messages.push(m);
    send(res, 200, { ...m, personEmail: WEBEX_BOT.emails[0] });
    // Webex notifies about the bot's own messages too (the channel must ignore them).
    void fire("messages", { id: m.id, roomId, roomType: room.type, personId: WEBEX_BOT.id }).catch(
      () => undefined,
    );
  }

  async function route(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
    const path = (req.url ?? "").split("?")[0] ?? "";
    calls.push(`${req.method} ${path}`);
    if (req.headers.authorization !== `Bearer ${token}`) return fail(res, 401, "unauthorized");
    if (throttled > 0) {
      throttled--;
      res.setHeader("retry-after", "1");
      return fail(res, 429, "too many requests");
    }
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const seg = path.split("/").map(decodeURIComponent); // ["", "v1", resource, id?]
    const [, v1, resource, rid] = seg;
    if (v1 !== "v1") return fail(res, 404, "not found");
    if (req.method === "GET" && resource === "people" && rid === "me") return send(res, 200, WEBEX_BOT);
    if (resource === "messages" && req.method === "POST" && !rid) return postMessage(res, body);
    if (resource === "messages" && rid) {
      const m = visible(
        messages.find((x) => x.id === rid),
        WEBEX_BOT.id,
      );
      if (!m) return fail(res, 404, "message not found");
      if (req.method === "GET") return send(res, 200, m);
      if (m.personId !== WEBEX_BOT.id) return fail(res, 403, "not yours");
      if (req.method === "DELETE") {
        m.deleted = true;
        return send(res, 204);
      }
      if (req.method === "PUT") {
        if (m.attachments) return fail(res, 400, "messages with attachments cannot be edited");
        m.markdown = typeof body.markdown === "string" ? body.markdown : m.markdown;
        m.text = typeof body.text === "string" ? body.text : m.text;
        return send(res, 200, m);
      }
    }
    if (req.method === "GET" && resource === "attachment" && rid === "actions") {
      const a = actions.get(seg[4] ?? "");
      return a ? send(res, 200, a) : fail(res, 404, "action not found");
    }
    if (req.method === "GET" && resource === "rooms" && rid) {
      const r = rooms.get(rid);
      return r?.members.has(WEBEX_BOT.id)
        ? send(res, 200, { id: r.id, type: r.type })
        : fail(res, 404, "no room");
    }
    if (resource === "webhooks") {
      if (req.method === "GET" && !rid)
        return send(res, 200, { items: webhooks.map(({ secret, ...w }) => w) });
      if (req.method === "POST" && !rid) {
        const w = {
          id: id("hook"),
          targetUrl: String(body.targetUrl),
          resource: String(body.resource),
          secret: String(body.secret ?? ""),
        };
        if (body.event !== "created" || !w.secret) return fail(res, 400, "bad webhook");
        webhooks.push(w);
        const { secret, ...shown } = w;
        return send(res, 200, { ...shown, event: "created", created: now() });
      }
      if (req.method === "DELETE" && rid) {
        const i = webhooks.findIndex((w) => w.id === rid);
        if (i < 0) return fail(res, 404, "no webhook");
        webhooks.splice(i, 1);
        return send(res, 204);
      }
    }
    fail(res, 404, "not found");
  }

  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => void route(req, res, raw).catch(() => fail(res, 500, "fake failed")));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

  async function fire(
    resource: string,
    data: Record<string, unknown>,
    o: { secret?: string; unsigned?: boolean; created?: string } = {},
  ): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for (const w of webhooks.filter((x) => x.resource === resource)) {
      const body = JSON.stringify({
        id: w.id,
        name: `warden ${resource}`,
        targetUrl: w.targetUrl,
        resource,
        event: "created",
        orgId: "org-1",
        createdBy: WEBEX_BOT.id,
        appId: "app-1",
        ownedBy: "creator",
        status: "active",
        created: "2020-01-01T00:00:00.000Z",
        actorId: data.personId,
        data: { created: o.created ?? now(), ...data },
      });
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (!o.unsigned) headers["x-spark-signature"] = sparkSignature(o.secret ?? w.secret, body);
      const u = new URL(w.targetUrl);
      out.push({ answer: await rawPost(u.origin, u.pathname, headers, body), headers, body });
    }
    return out;
  }

  return {
    url,
    token,
    messages,
    webhooks,
    calls,
    directRoom,
    groupRoom(rid, members) {
      rooms.set(rid, { id: rid, type: "group", members: new Set([WEBEX_BOT.id, ...members]) });
      return rid;
    },
    say(personId, text, so = {}) {
      const roomId = so.roomId ?? directRoom(personId);
      const room = rooms.get(roomId);
      if (!room?.members.has(personId)) throw new Error(`${personId} is not in ${roomId}`);
      const m: FakeWebexMessage & { mentionedPeople?: string[] } = {
        id: id("msg"),
        roomId,
        roomType: room.type,
        personId,
        created: now(),
        text: so.mention ? `${WEBEX_BOT.displayName} ${text}` : text,
        ...(so.mention ? { mentionedPeople: [WEBEX_BOT.id] } : {}),
      };
      messages.push(m);
      // Webex tells a bot about room messages only when they mention it.
      if (room.type === "group" && !so.mention) return Promise.resolve([]);
      return fire("messages", { id: m.id, roomId, roomType: room.type, personId });
    },
    press(personId, messageId, data, envelope = {}) {
      const m = visible(
        messages.find((x) => x.id === messageId),
        personId,
      );
      if (!m) throw new Error(`${personId} cannot see ${messageId}`);
      const a = {
        id: id("action"),
        type: "submit",
        messageId,
        personId,
        roomId: m.roomId,
        inputs: data,
        created: now(),
      };
      actions.set(a.id, a);
      // `envelope` overrides what the webhook says (a test of trusting ids from the API only).
      return fire("attachmentActions", { id: a.id, messageId, personId, roomId: m.roomId, ...envelope });
    },
    deliver: fire,
    throttle: (n) => {
      throttled = n;
    },
    inRoom: (roomId) =>
      messages.filter((m) => m.roomId === roomId && !m.deleted && m.personId === WEBEX_BOT.id),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
