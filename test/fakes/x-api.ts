/**
 * A fake X API v2 on 127.0.0.1 for the real `twitter-api-v2` (redirected by `X_API_URL`), and X's side
 * of the Account Activity webhook. It checks each call's OAuth 1.0a HMAC-SHA1 signature as X does
 * (over the URL the library signed, `https://api.x.com/…`), serves `GET /2/users/me`, the DM timeline
 * `GET /2/dm_events` (newest first, paginated) and the two DM sends, and records every DM. `dm()`
 * puts a person's DM into the timeline; `deliver()` also posts it to Warden's listener signed with
 * `x-twitter-webhooks-signature`, as X does; `crc()` asks the listener for the CRC answer.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type RawAnswer, rawPost } from "./webhook-client.js";

export const X_BOT = { id: "1500000000000000001", username: "warden_bot" } as const;

export interface FakeDm {
  readonly id: string;
  readonly text: string;
  readonly senderId: string;
  readonly conversationId: string;
  readonly createdAt: number;
}

export interface XKeys {
  readonly appKey: string;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly accessSecret: string;
}

export interface FakeX {
  readonly url: string;
  readonly dms: FakeDm[];
  /** Calls refused for a bad OAuth signature. */
  readonly unauthorized: number;
  /** Texts the bot sent into a chat (`<user id>` or `conv:<id>`), oldest first. */
  textsIn(chatId: string): string[];
  /** Texts the bot sent into `chatId` after its message `id`. */
  textsAfter(chatId: string, id: string): string[];
  /** The DM the bot sent with this event id. */
  sentDm(id: string): FakeDm | undefined;
  /** A person's DM to the bot (or into the group conversation `conversation`), in the timeline. */
  dm(from: string, text: string, o?: { at?: number; conversation?: string }): FakeDm;
  /** As `dm`, and delivered to Warden's webhook listener, signed (or as `sign` says). */
  deliver(
    listenerUrl: string,
    from: string,
    text: string,
    o?: { at?: number; sign?: string },
  ): Promise<RawAnswer>;
  /** The Account Activity body for `dm` (for replay and forgery tests). */
  activityBody(dm: FakeDm): string;
  crc(listenerUrl: string, token: string): Promise<RawAnswer>;
  /** Calls to GET /2/dm_events so far. */
  readonly polls: number;
  close(): Promise<void>;
}

const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** X's check: HMAC-SHA1 over METHOD & URL & sorted params, keyed by both secrets. */
function oauthValid(req: IncomingMessage, keys: XKeys): boolean {
  const auth = req.headers.authorization ?? "";
  if (!auth.startsWith("OAuth ")) return false;
  const oauth = new Map<string, string>();
  for (const m of auth.slice(6).matchAll(/([a-z_]+)="([^"]*)"/g))
    oauth.set(m[1] as string, decodeURIComponent(m[2] as string));
  if (oauth.get("oauth_consumer_key") !== keys.appKey || oauth.get("oauth_token") !== keys.accessToken)
    return false;
  const u = new URL(req.url ?? "/", "https://api.x.com");
  const params: [string, string][] = [...u.searchParams.entries()];
  for (const [k, v] of oauth) if (k !== "oauth_signature") params.push([k, v]);
  const norm = params
    .map(([k, v]) => [enc(k), enc(v)])
    .sort((a, b) => (a[0] === b[0] ? (a[1]! < b[1]! ? -1 : 1) : a[0]! < b[0]! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const base = `${req.method}&${enc(`https://api.x.com${u.pathname}`)}&${enc(norm)}`;
  const want = createHmac("sha1", `${enc(keys.appSecret)}&${enc(keys.accessSecret)}`)
    .update(base)
    .digest("base64");
  return want === oauth.get("oauth_signature");
}

export async function startFakeX(keys: XKeys): Promise<FakeX> {
  const dms: FakeDm[] = [];
  let next = 1_800_000_000_000_000_000n;
  let unauthorized = 0;
  let polls = 0;
  const pair = (a: string, b: string) =>
    [a, b].sort((x, y) => x.length - y.length || (x < y ? -1 : 1)).join("-");
  const add = (senderId: string, conversationId: string, text: string, at = Date.now()): FakeDm => {
    next += 1000n;
    const d = { id: String(next), text, senderId, conversationId, createdAt: at };
    dms.push(d);
    return d;
  };
  const json = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (!oauthValid(req, keys)) {
        unauthorized++;
        return json(res, 401, { title: "Unauthorized", status: 401 });
      }
      const u = new URL(req.url ?? "/", "http://x");
      if (req.method === "GET" && u.pathname === "/2/users/me")
        return json(res, 200, { data: { id: X_BOT.id, name: "Warden", username: X_BOT.username } });
      if (req.method === "GET" && u.pathname === "/2/dm_events") {
        polls++;
        const max = Number(u.searchParams.get("max_results") ?? 100);
        const start = Number(u.searchParams.get("pagination_token") ?? 0);
        const newestFirst = [...dms].reverse();
        const page = newestFirst.slice(start, start + max);
        return json(res, 200, {
          data: page.map((d) => ({
            id: d.id,
            event_type: "MessageCreate",
            text: d.text,
            sender_id: d.senderId,
            dm_conversation_id: d.conversationId,
            created_at: new Date(d.createdAt).toISOString(),
          })),
          meta: {
            result_count: page.length,
            ...(start + max < dms.length ? { next_token: String(start + max) } : {}),
          },
        });
      }
      const withUser = /^\/2\/dm_conversations\/with\/([^/]+)\/messages$/.exec(u.pathname);
      const inConv = /^\/2\/dm_conversations\/([^/]+)\/messages$/.exec(u.pathname);
      if (req.method === "POST" && (withUser || inConv)) {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { text?: unknown };
        if (typeof body.text !== "string" || body.text.length > 10_000)
          return json(res, 400, { title: "Invalid Request", status: 400 });
        const conv = withUser
          ? pair(X_BOT.id, decodeURIComponent(withUser[1] ?? ""))
          : decodeURIComponent(inConv?.[1] ?? "");
        const d = add(X_BOT.id, conv, body.text);
        return json(res, 201, { data: { dm_conversation_id: conv, dm_event_id: d.id } });
      }
      json(res, 404, { title: "Not Found", status: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** The chat a bot DM is in, as the channel names it. */
  const chatOf = (d: FakeDm): string => {
    const ids = d.conversationId.split("-");
    return ids.length === 2 && ids.includes(X_BOT.id)
      ? (ids.find((i) => i !== X_BOT.id) ?? "")
      : `conv:${d.conversationId}`;
  };
  const activityBody = (d: FakeDm) =>
    JSON.stringify({
      for_user_id: X_BOT.id,
      direct_message_events: [
        {
          type: "message_create",
          id: d.id,
          created_timestamp: String(d.createdAt),
          message_create: {
            target: { recipient_id: X_BOT.id },
            sender_id: d.senderId,
            message_data: { text: d.text, entities: { hashtags: [], urls: [] } },
          },
        },
      ],
      users: { [d.senderId]: { id: d.senderId, screen_name: `u${d.senderId}` } },
    });
  const sig = (body: string) =>
    `sha256=${createHmac("sha256", keys.appSecret).update(body).digest("base64")}`;
  return {
    url,
    dms,
    get unauthorized() {
      return unauthorized;
    },
    get polls() {
      return polls;
    },
    textsIn: (chatId) =>
      dms.filter((d) => d.senderId === X_BOT.id && chatOf(d) === chatId).map((d) => d.text),
    textsAfter: (chatId, id) =>
      dms
        .filter((d) => d.senderId === X_BOT.id && chatOf(d) === chatId && BigInt(d.id) > BigInt(id))
        .map((d) => d.text),
    sentDm: (id) => dms.find((d) => d.id === id && d.senderId === X_BOT.id),
    dm: (from, text, o = {}) => add(from, o.conversation ?? pair(from, X_BOT.id), text, o.at),
    async deliver(listenerUrl, from, text, o = {}) {
      const d = add(from, pair(from, X_BOT.id), text, o.at);
      const body = activityBody(d);
      return rawPost(
        listenerUrl,
        "/webhooks/x",
        { "x-twitter-webhooks-signature": o.sign ?? sig(body) },
        body,
      );
    },
    activityBody,
    crc: (listenerUrl, token) =>
      rawPost(listenerUrl, `/webhooks/x?crc_token=${encodeURIComponent(token)}`, {}, "", { method: "GET" }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
