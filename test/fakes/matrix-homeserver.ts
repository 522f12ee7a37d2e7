/**
 * A fake Matrix homeserver (client-server API v3) on 127.0.0.1:0, in memory, for matrix-js-sdk's
 * `baseUrl`. It serves what the SDK asks for on start (versions, pushrules, capabilities, filter),
 * `/sync` with `since` tokens and a long poll held up to `timeout`, sends with transaction-id
 * idempotency (the echo carries `unsigned.transaction_id`, as real servers do), room creation,
 * joins, leaves and the bot's `m.direct` account data. Auth is `Authorization: Bearer <token>`;
 * anything else is 401 `M_UNKNOWN_TOKEN`; unknown routes 404 `M_UNRECOGNIZED`. Like a real server
 * it vouches for `sender` itself: tests inject people's events, the bot can only send as itself.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Json = Record<string, unknown>;
export interface MxEvent {
  readonly event_id: string;
  readonly type: string;
  readonly sender: string;
  readonly room_id: string;
  readonly origin_server_ts: number;
  readonly content: Json;
  readonly state_key?: string;
  readonly unsigned?: Json;
}
interface Room {
  readonly id: string;
  readonly state: Map<string, MxEvent>; // `${type}\u0000${stateKey}`
  readonly events: { pos: number; ev: MxEvent; txnFor?: string }[];
}

export interface FakeHomeserver {
  readonly baseUrl: string;
  readonly token: string;
  readonly botId: string;
  readonly domain: string;
  /** Every request: method, path (no query), authorised. */
  readonly requests: { method: string; path: string; authorised: boolean }[];
  /** `@name:domain`. */
  mxid(name: string): string;
  /** A room with these members joined (the bot included when `withBot`); returns its id. */
  createRoom(opts: { members: string[]; withBot?: boolean; encrypted?: boolean; name?: string }): string;
  /** The DM room between the bot and `user` (created joined and listed in m.direct on first use). */
  dmRoom(user: string): string;
  /** `inviter` invites the bot to a new room (`isDirect`: a DM invite); returns the room id. */
  invite(inviter: string, opts?: { isDirect?: boolean }): string;
  /** `user` joins `roomId`. */
  join(roomId: string, user: string): void;
  /** Delivers an event sent by `sender` (the server vouches for it); returns its id. */
  inject(roomId: string, sender: string, type: string, content: Json, stateKey?: string): string;
  text(roomId: string, sender: string, body: string, extra?: Json): string;
  react(roomId: string, sender: string, eventId: string, key: string): string;
  /** The events in a room, oldest first (edits and reactions included). */
  eventsIn(roomId: string): MxEvent[];
  /** An event's content as a client shows it now (the latest `m.replace` applied). */
  shown(eventId: string): Json | undefined;
  /** Rooms `user` (joined or invited) shares with the bot. */
  roomsOf(user: string): string[];
  /** Rooms whose members (joined or invited) are exactly the bot and `user`. */
  dmRoomsOf(user: string): string[];
  /** The room an event is in. */
  roomOfEvent(eventId: string): string | undefined;
  /** Bodies of the bot's messages in `roomId` as first sent (edits left out), oldest first. */
  botTexts(roomId: string): string[];
  /** The bot's reactions on `eventId` that are still there (not redacted): their keys. */
  botReactionsOn(eventId: string): string[];
  isJoined(roomId: string, user: string): boolean;
  directOfBot(): Record<string, string[]>;
  close(): Promise<void>;
}

const SKEY = (type: string, key: string) => `${type}\u0000${key}`;

export async function startFakeHomeserver(
  opts: { token?: string; domain?: string; autoJoinInvitees?: boolean } = {},
): Promise<FakeHomeserver> {
  const token = opts.token ?? "syt_d2FyZGVu_fakeAccessToken0123456789";
  const domain = opts.domain ?? "hs.test";
  const botId = `@warden:${domain}`;
  const rooms = new Map<string, Room>();
  const requests: FakeHomeserver["requests"] = [];
  const byId = new Map<string, MxEvent>();
  let pos = 0;
  let seq = 0;
  let direct: Record<string, string[]> = {};
  let directPos = 0;
  const waiters = new Set<() => void>();
  const txns = new Map<string, string>();
  const redacted = new Set<string>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };

  function add(room: Room, sender: string, type: string, content: Json, stateKey?: string, txn?: string) {
    const ev: MxEvent = {
      event_id: `$ev${++seq}_${Math.random().toString(36).slice(2, 8)}`,
      type,
      sender,
      room_id: room.id,
      origin_server_ts: Date.now(),
      content,
      ...(stateKey === undefined ? {} : { state_key: stateKey }),
    };
    room.events.push({ pos: ++pos, ev, ...(txn ? { txnFor: txn } : {}) });
    if (stateKey !== undefined) room.state.set(SKEY(type, stateKey), ev);
    byId.set(ev.event_id, ev);
    wake();
    return ev.event_id;
  }
  const membership = (room: Room, user: string) =>
    room.state.get(SKEY("m.room.member", user))?.content.membership as string | undefined;

  function newRoom(creator: string): Room {
    const room: Room = { id: `!r${++seq}:${domain}`, state: new Map(), events: [] };
    rooms.set(room.id, room);
    add(room, creator, "m.room.create", { creator, room_version: "10" }, "");
    add(room, creator, "m.room.member", { membership: "join" }, creator);
    return room;
  }

  const fake: FakeHomeserver = {
    baseUrl: "",
    token,
    botId,
    domain,
    requests,
    mxid: (name) => (name.startsWith("@") ? name : `@${name}:${domain}`),
    createRoom({ members, withBot = true, encrypted = false, name }) {
      const [first = botId, ...rest] = withBot ? [botId, ...members] : members;
      const room = newRoom(first);
      for (const m of rest) add(room, m, "m.room.member", { membership: "join" }, m);
      if (encrypted) add(room, first, "m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" }, "");
      if (name) add(room, first, "m.room.name", { name }, "");
      return room.id;
    },
    dmRoom(user) {
      const known = direct[user]?.[0];
      if (known) return known;
      const id = fake.createRoom({ members: [user] });
      direct = { ...direct, [user]: [id] };
      directPos = ++pos;
      wake();
      return id;
    },
    invite(inviter, o = {}) {
      const room = newRoom(inviter);
      add(room, inviter, "m.room.member", { membership: "invite", is_direct: !!o.isDirect }, botId);
      return room.id;
    },
    join(roomId, user) {
      const room = rooms.get(roomId);
      if (room) add(room, user, "m.room.member", { membership: "join" }, user);
    },
    inject(roomId, sender, type, content, stateKey) {
      const room = rooms.get(roomId);
      if (!room) throw new Error(`no room ${roomId}`);
      return add(room, sender, type, content, stateKey);
    },
    text: (roomId, sender, body, extra = {}) =>
      fake.inject(roomId, sender, "m.room.message", { msgtype: "m.text", body, ...extra }),
    react: (roomId, sender, eventId, key) =>
      fake.inject(roomId, sender, "m.reaction", {
        "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key },
      }),
    eventsIn: (roomId) => (rooms.get(roomId)?.events ?? []).map((e) => e.ev),
    shown(eventId) {
      const ev = byId.get(eventId);
      if (!ev) return undefined;
      let content = ev.content;
      for (const { ev: e } of rooms.get(ev.room_id)?.events ?? []) {
        const rel = e.content["m.relates_to"] as Json | undefined;
        if (e.sender === ev.sender && rel?.rel_type === "m.replace" && rel.event_id === eventId)
          content = (e.content["m.new_content"] as Json) ?? content;
      }
      return content;
    },
    roomsOf: (user) =>
      [...rooms.values()]
        .filter(
          (r) => ["join", "invite"].includes(membership(r, user) ?? "") && membership(r, botId) === "join",
        )
        .map((r) => r.id),
    dmRoomsOf: (user) =>
      fake.roomsOf(user).filter((id) => {
        const room = rooms.get(id) as Room;
        const present = [...room.state.values()]
          .filter(
            (e) => e.type === "m.room.member" && ["join", "invite"].includes(e.content.membership as string),
          )
          .map((e) => e.state_key);
        return present.length === 2 && present.includes(user) && present.includes(botId);
      }),
    roomOfEvent: (eventId) => byId.get(eventId)?.room_id,
    botTexts: (roomId) =>
      fake
        .eventsIn(roomId)
        .filter((e) => e.sender === botId && e.type === "m.room.message")
        .filter((e) => (e.content["m.relates_to"] as Json | undefined)?.rel_type !== "m.replace")
        .map((e) => String(e.content.body ?? "")),
    botReactionsOn: (eventId) => {
      const roomId = byId.get(eventId)?.room_id ?? "";
      return fake
        .eventsIn(roomId)
        .filter((e) => e.sender === botId && e.type === "m.reaction" && !redacted.has(e.event_id))
        .map((e) => e.content["m.relates_to"] as Json | undefined)
        .filter((rel) => rel?.event_id === eventId)
        .map((rel) => String(rel?.key));
    },
    isJoined: (roomId, user) => {
      const r = rooms.get(roomId);
      return !!r && membership(r, user) === "join";
    },
    directOfBot: () => direct,
    close: () =>
      new Promise<void>((resolve) => {
        wake();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  function syncBody(since: number) {
    const join: Json = {};
    const invite: Json = {};
    const leave: Json = {};
    for (const room of rooms.values()) {
      const mine = membership(room, botId);
      const fresh = room.events.filter((e) => e.pos > since);
      if (mine === "invite" && fresh.length > 0) {
        invite[room.id] = { invite_state: { events: [...room.state.values()] } };
      } else if (mine === "join") {
        // The first sync gives state only (timeline empty); later ones the new events. Events from
        // before the bot joined stay out of its timeline.
        const joinedAt = room.state.get(SKEY("m.room.member", botId));
        const at = room.events.find((e) => e.ev === joinedAt)?.pos ?? 0;
        const initial = since < 0;
        // The first sync carries the latest few events (history), as real servers do.
        const recent = fresh.filter((e) => e.pos >= at);
        const timeline = initial ? recent.filter((e) => e.ev.state_key === undefined).slice(-5) : recent;
        if (!initial && timeline.length === 0) continue;
        join[room.id] = {
          state: { events: initial || at > since ? [...room.state.values()] : [] },
          timeline: {
            events: timeline.map((e) =>
              e.txnFor ? { ...e.ev, unsigned: { transaction_id: e.txnFor } } : e.ev,
            ),
            limited: initial,
            prev_batch: `p${since}`,
          },
          account_data: { events: [] },
          ephemeral: { events: [] },
          unread_notifications: {},
          summary: {},
        };
      } else if (mine === "leave" && fresh.length > 0) {
        leave[room.id] = { timeline: { events: [] }, state: { events: [] } };
      }
    }
    const accountData = since < 0 || directPos > since ? [{ type: "m.direct", content: direct }] : [];
    return {
      next_batch: `s${pos}`,
      rooms: { join, invite, leave },
      account_data: { events: accountData },
      presence: { events: [] },
      to_device: { events: [] },
    };
  }

  const pending = () => pos;
  async function sync(url: URL, res: ServerResponse, req: IncomingMessage) {
    // No `since`: the initial sync (-1), state only.
    const given = url.searchParams.get("since");
    const since = given === null ? -1 : Number(given.slice(1)) || 0;
    const timeout = Math.min(Number(url.searchParams.get("timeout") ?? "0") || 0, 30_000);
    if (since >= 0 && pending() <= since && timeout > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, timeout);
        waiters.add(done);
        req.on("close", done);
      });
    }
    send(res, 200, syncBody(since));
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
  const err = (res: ServerResponse, status: number, errcode: string, error: string) =>
    send(res, status, { errcode, error });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = decodeURIComponent(url.pathname);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const body = (raw ? JSON.parse(raw) : {}) as Json;
    const authorised = req.headers.authorization === `Bearer ${token}`;
    requests.push({ method: req.method ?? "", path, authorised });
    if (path === "/_matrix/client/versions")
      return send(res, 200, { versions: ["v1.1", "v1.5", "v1.11"], unstable_features: {} });
    if (!authorised) return err(res, 401, "M_UNKNOWN_TOKEN", "Invalid access token passed.");
    const m = (re: RegExp) => re.exec(path);
    if (path === "/_matrix/client/v3/account/whoami")
      return send(res, 200, { user_id: botId, device_id: "WARDENDEV" });
    if (path === "/_matrix/client/v3/pushrules/") return send(res, 200, { global: {} });
    if (path === "/_matrix/client/v3/capabilities") return send(res, 200, { capabilities: {} });
    if (m(/^\/_matrix\/client\/v3\/user\/[^/]+\/filter$/)) return send(res, 200, { filter_id: "f1" });
    if (path === "/_matrix/client/v3/sync") return sync(url, res, req);
    const sent = m(/^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/);
    if (sent && req.method === "PUT") {
      const [, roomId = "", type = "", txnId = ""] = sent;
      const room = rooms.get(roomId);
      if (!room || membership(room, botId) !== "join")
        return err(res, 403, "M_FORBIDDEN", "You are not in this room.");
      const key = `${roomId}/${txnId}`;
      const eventId = txns.get(key) ?? add(room, botId, type, body, undefined, txnId);
      txns.set(key, eventId);
      return send(res, 200, { event_id: eventId });
    }
    const redact = m(/^\/_matrix\/client\/v3\/rooms\/([^/]+)\/redact\/([^/]+)\/([^/]+)$/);
    if (redact && req.method === "PUT") {
      const [, roomId = "", target = "", txnId = ""] = redact;
      const room = rooms.get(roomId);
      const ev = byId.get(target);
      // Like a server with default power levels: the bot may redact its own events only.
      if (!room || ev?.room_id !== roomId || ev.sender !== botId)
        return err(res, 403, "M_FORBIDDEN", "You cannot redact this event.");
      const key = `${roomId}/${txnId}`;
      const eventId =
        txns.get(key) ?? add(room, botId, "m.room.redaction", { redacts: target }, undefined, txnId);
      txns.set(key, eventId);
      redacted.add(target);
      return send(res, 200, { event_id: eventId });
    }
    if (path === "/_matrix/client/v3/createRoom" && req.method === "POST") {
      const room = newRoom(botId);
      for (const u of (body.invite as string[] | undefined) ?? []) {
        add(room, botId, "m.room.member", { membership: "invite", is_direct: !!body.is_direct }, u);
        if (opts.autoJoinInvitees !== false) add(room, u, "m.room.member", { membership: "join" }, u);
      }
      return send(res, 200, { room_id: room.id });
    }
    const joining = m(/^\/_matrix\/client\/v3\/(?:join|rooms)\/([^/]+?)(?:\/join)?$/);
    if (joining && req.method === "POST") {
      const room = rooms.get(joining[1] ?? "");
      if (!room || membership(room, botId) !== "invite")
        return err(res, 403, "M_FORBIDDEN", "You are not invited to this room.");
      add(room, botId, "m.room.member", { membership: "join" }, botId);
      return send(res, 200, { room_id: room.id });
    }
    const leaving = m(/^\/_matrix\/client\/v3\/rooms\/([^/]+)\/leave$/);
    if (leaving && req.method === "POST") {
      const room = rooms.get(leaving[1] ?? "");
      if (room) add(room, botId, "m.room.member", { membership: "leave" }, botId);
      return send(res, 200, {});
    }
    const data = m(/^\/_matrix\/client\/v3\/user\/([^/]+)\/account_data\/m\.direct$/);
    if (data) {
      if (data[1] !== botId) return err(res, 403, "M_FORBIDDEN", "Not your account data.");
      if (req.method === "GET") return send(res, 200, direct);
      direct = body as Record<string, string[]>;
      directPos = ++pos;
      wake();
      return send(res, 200, {});
    }
    if (m(/^\/_matrix\/client\/v3\/rooms\/[^/]+\/typing\//)) return send(res, 200, {});
    if (m(/^\/_matrix\/client\/v3\/rooms\/[^/]+\/read_markers$/)) return send(res, 200, {});
    return err(res, 404, "M_UNRECOGNIZED", "Unrecognized request");
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => err(res, 500, "M_UNKNOWN", String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, { baseUrl: `http://127.0.0.1:${port}` });
}
