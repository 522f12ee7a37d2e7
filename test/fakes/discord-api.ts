/**
 * A fake Discord (REST API v10 + Gateway) on 127.0.0.1:0 for discord.js (`rest.api` = `apiUrl`; the
 * Gateway URL comes from `GET /api/v10/gateway/bot`). Speaks the real wire format: JSON errors
 * `{message, code}` with Discord's codes, 429 with `retry_after` and `x-ratelimit-*` headers, HELLO /
 * heartbeat ACK / IDENTIFY → READY + GUILD_CREATE, close 4004 on a bad token, and realistic
 * MESSAGE_CREATE (DMs: `channel_type: 1`, no guild_id) and INTERACTION_CREATE payloads. It enforces
 * the limits the real one does (2000-char content, 100-char custom_id, embed sizes, one callback per
 * interaction, bots cannot delete people's DM messages) and records every REST call.
 * One deliberate leniency: a click may name any custom_id, to model a forged or replayed click.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export type Json = Record<string, unknown>;
export interface RecordedCall {
  readonly method: string;
  /** Path after `/api/v10`, e.g. `/channels/123/messages`. */
  readonly path: string;
  readonly body: Json | undefined;
}
export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
}
export interface FakeMessage extends Json {
  id: string;
  channel_id: string;
  author: FakeUser;
  content: string;
  embeds: Json[];
  components: Json[];
  flags: number;
}
/** One interaction and everything the app answered to it (live: fills as answers arrive). */
export interface FakeInteraction {
  readonly id: string;
  readonly token: string;
  readonly callbacks: { type: number; data?: Json }[];
  original?: FakeMessage;
  originalDeleted: boolean;
  readonly followups: FakeMessage[];
  /** What the person saw, as displayed (escapes resolved), in order. */
  readonly shown: string[];
}

export const BOT_USER: FakeUser = {
  id: "900000000000000001",
  username: "warden",
  global_name: "Warden",
  discriminator: "0",
  avatar: null,
  bot: true,
};
export const APPLICATION_ID = BOT_USER.id;
export const GUILD_ID = "910000000000000001";
/** The guild's text channel (#general). */
export const GUILD_CHANNEL_ID = "910000000000000002";
const EPHEMERAL = 64;

const PERMISSIONS = "2248473465835073";
const now = (): string => new Date().toISOString();
// biome-ignore format: Discord's wire payloads, one object per line, read like the API reference
const WIRE = {
  user: (id: string, name?: string, bot?: boolean): FakeUser => ({ id, username: (name ?? `user${id}`).toLowerCase(), global_name: name ?? null, discriminator: "0", avatar: null, ...(bot ? { bot } : {}) }),
  dmChannel: (id: string, recipient?: FakeUser) => ({ id, type: 1, last_message_id: null, flags: 0, recipients: [recipient] }),
  guildChannel: () => ({ id: GUILD_CHANNEL_ID, type: 0, guild_id: GUILD_ID, name: "general", position: 0, permission_overwrites: [], nsfw: false, parent_id: null, flags: 0, topic: null, rate_limit_per_user: 0 }),
  messageRest: () => ({ type: 0, timestamp: now(), edited_timestamp: null, tts: false, mention_everyone: false, mentions: [], mention_roles: [], attachments: [], pinned: false }),
  member: () => ({ roles: [], joined_at: now(), deaf: false, mute: false, flags: 0, nick: null, avatar: null, pending: false, premium_since: null }),
  ready: (gatewayUrl: string, sessionId: string) => ({
    v: 10, user: BOT_USER, guilds: [{ id: GUILD_ID, unavailable: true }], session_id: sessionId, resume_gateway_url: gatewayUrl, shard: [0, 1],
    application: { id: APPLICATION_ID, flags: 0 }, private_channels: [], relationships: [], presences: [], user_settings: {}, geo_ordered_rtc_regions: [],
  }),
  guildCreate: () => ({
    id: GUILD_ID, name: "ops", icon: null, owner_id: "1", unavailable: false, large: false, member_count: 2, joined_at: now(), features: [], emojis: [], stickers: [],
    threads: [], voice_states: [], presences: [], members: [], stage_instances: [], guild_scheduled_events: [], channels: [WIRE.guildChannel()],
    roles: [{ id: GUILD_ID, name: "@everyone", permissions: "1024", position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
  }),
  /** Where an interaction happened: a DM carries `user`, a guild channel `member` (with `user`). */
  interactionPlace: (channel: { id: string; type: number; recipient?: FakeUser }, user: FakeUser) => channel.type === 1
    ? { user, channel: WIRE.dmChannel(channel.id, channel.recipient), context: 1, authorizing_integration_owners: { "0": GUILD_ID } }
    : { guild_id: GUILD_ID, guild: { id: GUILD_ID, locale: "en-US", features: [] }, guild_locale: "en-US", channel: WIRE.guildChannel(), context: 0,
        authorizing_integration_owners: { "0": GUILD_ID }, member: { ...WIRE.member(), user, permissions: PERMISSIONS } },
};

/** Message content as Discord displays it: backslash escapes before punctuation vanish. */
export function displayed(content: string): string {
  return content.replace(/\\([^A-Za-z0-9\s])/g, "$1");
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export type FakeDiscord = Awaited<ReturnType<typeof startFakeDiscord>>;

export async function startFakeDiscord(token = "OTAw.fake-discord.TEST-token_abcdefghijkl") {
  const calls: RecordedCall[] = [];
  const channels = new Map<
    string,
    { id: string; type: number; recipient?: FakeUser; messages: FakeMessage[] }
  >();
  const users = new Map<string, FakeUser>([[BOT_USER.id, BOT_USER]]);
  const interactions = new Map<string, FakeInteraction & { messageId?: string; channelId: string }>();
  const faults: { method: string; path: RegExp; err: ApiError | number }[] = [];
  const closedDms = new Set<string>();
  const waiters = new Set<() => void>();
  let commands: Json[] = [];
  let rejectIdentify = false;
  let seq = 0n;
  const snowflake = (): string =>
    String(((BigInt(Date.now()) - 1420070400000n) << 22n) | (++seq & 0x3fffffn));
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  channels.set(GUILD_CHANNEL_ID, { id: GUILD_CHANNEL_ID, type: 0, messages: [] });

  function userOf(id: string, name?: string, bot?: boolean): FakeUser {
    const known = users.get(id);
    if (known && !name && bot === undefined) return known;
    const u = WIRE.user(id, name, bot);
    users.set(id, u);
    return u;
  }
  function dmChannelId(userId: string): string {
    for (const c of channels.values()) if (c.type === 1 && c.recipient?.id === userId) return c.id;
    const id = snowflake();
    channels.set(id, { id, type: 1, recipient: userOf(userId), messages: [] });
    return id;
  }
  const channelOf = (id: string) => {
    const c = channels.get(id);
    if (!c) throw new ApiError(404, 10003, "Unknown Channel");
    return c;
  };
  const dmPayload = (c: { id: string; recipient?: FakeUser }) => WIRE.dmChannel(c.id, c.recipient);

  function store(
    channelId: string,
    author: FakeUser,
    body: Json,
    keep = true,
    placeholder = false,
  ): FakeMessage {
    const c = channelOf(channelId);
    if (!placeholder) checkBody(body);
    const m: FakeMessage = {
      id: snowflake(),
      channel_id: channelId,
      author,
      content: (body.content as string | undefined) ?? "",
      embeds: (body.embeds as Json[] | undefined) ?? [],
      components: (body.components as Json[] | undefined) ?? [],
      flags: Number(body.flags ?? 0),
      ...WIRE.messageRest(),
      ...(c.type === 0 ? { guild_id: GUILD_ID } : {}),
    };
    if (keep) c.messages.push(m);
    return m;
  }
  function edit(m: FakeMessage, body: Json): FakeMessage {
    checkBody(body, true);
    for (const k of ["content", "embeds", "components", "flags"] as const)
      if (k in body) (m as Json)[k] = body[k];
    m.edited_timestamp = now();
    return m;
  }
  function checkBody(body: Json, partial = false): void {
    const bad = (why: string) => new ApiError(400, 50035, `Invalid Form Body (${why})`);
    const content = body.content ?? "";
    if (typeof content !== "string" || content.length > 2000)
      throw bad("content: Must be 2000 or fewer in length.");
    const embeds = (body.embeds ?? []) as { title?: string; fields?: { name: string; value: string }[] }[];
    const rows = (body.components ?? []) as { components?: { custom_id?: string; label?: string }[] }[];
    if (!partial && content === "" && embeds.length === 0 && rows.length === 0)
      throw new ApiError(400, 50006, "Cannot send an empty message");
    for (const e of embeds) {
      if ((e.title ?? "").length > 256) throw bad("embeds.title");
      for (const f of e.fields ?? [])
        if (!f.name || !f.value || f.name.length > 256 || f.value.length > 1024) throw bad("embeds.fields");
    }
    for (const b of rows.flatMap((r) => r.components ?? [])) {
      if (!b.custom_id || b.custom_id.length > 100 || (b.label ?? "").length > 80)
        throw bad("components.custom_id");
    }
  }
  const messageIn = (channelId: string, id: string): FakeMessage => {
    const m = channelOf(channelId).messages.find((x) => x.id === id);
    if (!m) throw new ApiError(404, 10008, "Unknown Message");
    return m;
  };
  const interactionOf = (id: string, tok: string) => {
    const i = interactions.get(id);
    if (!i || i.token !== tok) throw new ApiError(404, 10062, "Unknown interaction");
    return i;
  };
  const webhookOf = (app: string, tok: string) => {
    const i = [...interactions.values()].find((x) => x.token === tok);
    if (app !== APPLICATION_ID || !i || i.callbacks.length === 0)
      throw new ApiError(404, 10015, "Unknown Webhook");
    return i;
  };
  const originalOf = (app: string, tok: string) => {
    const i = webhookOf(app, tok);
    if (!i.original || i.originalDeleted) throw new ApiError(404, 10008, "Unknown Message");
    return i;
  };
  function show(i: FakeInteraction, m: { content: string }): void {
    if (m.content) i.shown.push(displayed(m.content));
    wake();
  }

  type Handler = (m: string[], body: Json) => unknown;
  /** The REST API, as [method, path, auth required, handler]; a handler's undefined → 204. */
  const ROUTES: [string, RegExp, boolean, Handler][] = [
    [
      "POST",
      /^\/interactions\/(\d+)\/([^/]+)\/callback$/,
      false,
      ([, id, tok], body) => {
        const i = interactionOf(id!, tok!);
        if (i.callbacks.length > 0)
          throw new ApiError(400, 40060, "Interaction has already been acknowledged.");
        const type = Number(body.type);
        const data = body.data as Json | undefined;
        if (![4, 5, 6, 7].includes(type) || (type === 7 && !i.messageId))
          throw new ApiError(400, 50035, "Invalid Form Body (type)");
        if (type === 4) checkBody(data ?? {});
        i.callbacks.push({ type, ...(data ? { data } : {}) });
        const flags = Number(data?.flags ?? 0);
        if (type === 4 || type === 5) {
          // type 5 shows "thinking…" (flag 128) until the app edits @original.
          i.original = store(
            i.channelId,
            BOT_USER,
            type === 4 ? (data ?? {}) : { flags: flags | 128 },
            !(flags & EPHEMERAL),
            true,
          );
          if (type === 4) show(i, i.original);
        }
        if (type === 7) edit(messageIn(i.channelId, i.messageId!), data ?? {});
        wake();
        return undefined;
      },
    ],
    [
      "PATCH",
      /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/,
      false,
      ([, app, tok], body) => {
        const i = originalOf(app!, tok!);
        edit(i.original!, body);
        i.original!.flags &= ~128;
        show(i, i.original!);
        return i.original;
      },
    ],
    [
      "DELETE",
      /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/,
      false,
      ([, app, tok]) => {
        const i = originalOf(app!, tok!);
        const c = channelOf(i.channelId);
        c.messages = c.messages.filter((x) => x !== i.original);
        i.originalDeleted = true;
        wake();
        return undefined;
      },
    ],
    // Trigger Typing Indicator: 204, shown in the channel for ~10 s.
    ["POST", /^\/channels\/(\d+)\/typing$/, true, () => undefined],
    [
      "POST",
      /^\/webhooks\/(\d+)\/([^/]+)$/,
      false,
      ([, app, tok], body) => {
        const i = webhookOf(app!, tok!);
        const f = store(i.channelId, BOT_USER, body, !(Number(body.flags ?? 0) & EPHEMERAL));
        i.followups.push(f);
        show(i, f);
        return f;
      },
    ],
    [
      "GET",
      /^\/gateway\/bot$/,
      true,
      () => ({
        url: gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
      }),
    ],
    ["GET", /^\/users\/@me$/, true, () => BOT_USER],
    [
      "POST",
      /^\/users\/@me\/channels$/,
      true,
      (_, body) => {
        if (typeof body.recipient_id !== "string")
          throw new ApiError(400, 50035, "Invalid Form Body (recipient_id)");
        return dmPayload(channelOf(dmChannelId(body.recipient_id)));
      },
    ],
    [
      "PUT",
      /^\/applications\/(\d+)\/commands$/,
      true,
      ([, app], body) => {
        if (app !== APPLICATION_ID) throw new ApiError(403, 50001, "Missing Access");
        const list = body as unknown as Json[];
        commands = list.map((c) => ({
          ...c,
          id: snowflake(),
          application_id: APPLICATION_ID,
          version: snowflake(),
        }));
        return commands;
      },
    ],
    [
      "POST",
      /^\/channels\/(\d+)\/messages$/,
      true,
      ([, id], body) => {
        const c = channelOf(id!);
        if (c.type === 1 && closedDms.has(c.recipient!.id))
          throw new ApiError(403, 50007, "Cannot send messages to this user");
        return store(c.id, BOT_USER, body);
      },
    ],
    [
      "PATCH",
      /^\/channels\/(\d+)\/messages\/(\d+)$/,
      true,
      ([, id, mid], body) => {
        const msg = messageIn(id!, mid!);
        if (msg.author.id !== BOT_USER.id)
          throw new ApiError(403, 50005, "Cannot edit a message authored by another user");
        return edit(msg, body);
      },
    ],
    [
      "DELETE",
      /^\/channels\/(\d+)\/messages\/(\d+)$/,
      true,
      ([, id, mid]) => {
        const c = channelOf(id!);
        const msg = messageIn(c.id, mid!);
        if (c.type === 1 && msg.author.id !== BOT_USER.id)
          throw new ApiError(403, 50003, "Cannot execute action on a DM channel");
        c.messages = c.messages.filter((x) => x !== msg);
        return undefined;
      },
    ],
  ];
  function route(method: string, path: string, body: Json, authed: boolean): unknown {
    for (const [verb, re, auth, handler] of ROUTES) {
      const m = re.exec(path);
      if (!m || verb !== method) continue;
      if (auth && !authed) throw new ApiError(401, 0, "401: Unauthorized");
      return handler([...m], body);
    }
    throw new ApiError(404, 0, "404: Not Found");
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, "");
      const method = req.method ?? "GET";
      const raw = Buffer.concat(chunks).toString("utf8");
      let status = 200;
      let out: unknown;
      const headers: Record<string, string> = { "content-type": "application/json" };
      try {
        if (!url.pathname.startsWith("/api/v10/")) throw new ApiError(404, 0, "404: Not Found");
        const body = raw === "" ? undefined : (JSON.parse(raw) as Json);
        calls.push({ method, path, body });
        wake();
        const fault = faults.findIndex((f) => f.method === method && f.path.test(path));
        if (fault >= 0) {
          const { err } = faults.splice(fault, 1)[0]!;
          if (typeof err !== "number") throw err;
          status = 429;
          Object.assign(headers, {
            "retry-after": String(err),
            "x-ratelimit-limit": "5",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset-after": String(err),
            "x-ratelimit-bucket": "fake-bucket",
            "x-ratelimit-scope": "user",
          });
          out = { message: "You are being rate limited.", retry_after: err, global: false };
        } else {
          out = route(method, path, body ?? {}, req.headers.authorization === `Bot ${token}`);
          if (out === undefined) status = 204;
        }
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, 0, `500: ${String(err)}`);
        status = e.status;
        out = { message: e.message, code: e.code };
      }
      res.writeHead(status, status === 204 ? {} : headers);
      res.end(status === 204 ? undefined : JSON.stringify(out));
    });
  });

  // The Gateway, on the same port.
  const sessions = new Set<{ ws: WebSocket; s: number; ready: boolean }>();
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws)),
  );
  wss.on("connection", (ws: WebSocket) => {
    const session = { ws, s: 0, ready: false };
    sessions.add(session);
    ws.on("close", () => sessions.delete(session));
    const send = (t: string, d: unknown) => ws.send(JSON.stringify({ op: 0, t, s: ++session.s, d }));
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: 41_250 }, s: null, t: null }));
    ws.on("message", (data) => {
      const p = JSON.parse(String(data)) as { op: number; d: Json };
      if (p.op === 1) ws.send(JSON.stringify({ op: 11 }));
      if (p.op === 6) ws.send(JSON.stringify({ op: 9, d: false })); // no resuming here
      if (p.op !== 2) return;
      if (p.d.token !== token || rejectIdentify) {
        rejectIdentify = false;
        return ws.close(4004, "Authentication failed");
      }
      send("READY", WIRE.ready(gatewayUrl, `session-${snowflake()}`));
      send("GUILD_CREATE", WIRE.guildCreate());
      session.ready = true;
      wake();
    });
  });
  function dispatch(t: string, d: unknown): number {
    const live = [...sessions].filter((x) => x.ready);
    for (const x of live) x.ws.send(JSON.stringify({ op: 0, t, s: ++x.s, d }));
    return live.length;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const gatewayUrl = `ws://127.0.0.1:${port}`;

  function waitFor<T>(what: string, f: () => T | undefined, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = f();
        if (v === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`fake Discord: timed out waiting for ${what}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  /** Dispatches an INTERACTION_CREATE as Discord would from `user` in `channelId`. */
  function interact(opts: {
    user: string;
    name?: string;
    channelId: string;
    type: 2 | 3;
    data: Json;
    message?: FakeMessage;
  }) {
    const c = channelOf(opts.channelId);
    const user = userOf(opts.user, opts.name);
    const i = {
      id: snowflake(),
      token: `itoken-${snowflake()}-${Math.random().toString(36).slice(2)}`,
      channelId: c.id,
      callbacks: [],
      originalDeleted: false,
      followups: [],
      shown: [],
      ...(opts.message ? { messageId: opts.message.id } : {}),
    };
    interactions.set(i.id, i);
    const where = WIRE.interactionPlace(c, user);
    dispatch("INTERACTION_CREATE", {
      id: i.id,
      application_id: APPLICATION_ID,
      type: opts.type,
      token: i.token,
      version: 1,
      channel_id: c.id,
      data: opts.data,
      app_permissions: PERMISSIONS,
      locale: "en-US",
      entitlements: [],
      attachment_size_limit: 26214400,
      ...where,
      ...(opts.message ? { message: opts.message } : {}),
    });
    return i as FakeInteraction;
  }
  type Click = { user: string; channelId: string; messageId: string; customId: string; userName?: string };
  function press(opts: Click): FakeInteraction {
    const message = messageIn(opts.channelId, opts.messageId);
    const data = { custom_id: opts.customId, component_type: 2 };
    return interact({
      user: opts.user,
      name: opts.userName,
      channelId: opts.channelId,
      type: 3,
      message,
      data,
    });
  }
  const answered = (i: FakeInteraction, what: string) =>
    waitFor(what, () => (i.shown.length > 0 || i.originalDeleted ? i : undefined));

  return {
    token,
    /** Pass as discord.js `rest.api` (the channel's `apiUrl`). */
    apiUrl: `http://127.0.0.1:${port}/api`,
    applicationId: APPLICATION_ID,
    calls: calls as readonly RecordedCall[],
    /** Recorded calls with `method` whose path matches `path` (a RegExp, or a prefix string). */
    callsTo: (method: string, path: RegExp | string) =>
      calls.filter(
        (c) =>
          c.method === method && (typeof path === "string" ? c.path.startsWith(path) : path.test(c.path)),
      ),
    waitFor,
    /** Resolves once a client has IDENTIFYed and got READY. */
    connected: () =>
      waitFor("a READY gateway session", () => ([...sessions].some((x) => x.ready) ? true : undefined)),
    /** The next `method` call matching `path` gets 429 with `retry_after` seconds, once. */
    rateLimitOnce: (method: string, path: RegExp, retryAfter = 1) =>
      void faults.push({ method, path, err: retryAfter }),
    /** The next `method` call matching `path` fails with this Discord error, once. */
    failOnce: (method: string, path: RegExp, status: number, code: number, message: string) =>
      void faults.push({ method, path, err: new ApiError(status, code, message) }),
    /** `userId` has DMs closed: sending to them fails with 50007. */
    closeDms: (userId: string) => void closedDms.add(userId),
    /** The next IDENTIFY is refused with close code 4004 (Authentication failed). */
    rejectNextIdentify: (): void => {
      rejectIdentify = true;
    },
    dmChannelId,
    /** A DM from `userId` (created as a person unless `bot`). Dropped if no client is connected. */
    dm(userId: string, text: string, opts: { name?: string; bot?: boolean } = {}): FakeMessage {
      const m = store(dmChannelId(userId), userOf(userId, opts.name, opts.bot), { content: text });
      dispatch("MESSAGE_CREATE", { ...m, channel_type: 1 });
      return m;
    },
    /** A message in #general; `<@id>` mentions are resolved like Discord does. */
    guildMessage(opts: {
      user: string;
      text: string;
      name?: string;
      bot?: boolean;
      webhook?: boolean;
      type?: number;
    }): FakeMessage {
      const author = userOf(opts.user, opts.name, opts.bot);
      const m = store(GUILD_CHANNEL_ID, author, { content: opts.text });
      m.mentions = [...opts.text.matchAll(/<@!?(\d+)>/g)].flatMap((x) =>
        users.has(x[1]!) ? [users.get(x[1]!)] : [],
      );
      if (opts.type !== undefined) m.type = opts.type;
      if (opts.webhook) m.webhook_id = snowflake();
      dispatch("MESSAGE_CREATE", { ...m, member: WIRE.member() });
      return m;
    },
    /**
     * A slash command (`args` is shorthand for `options: {args}`); in #general when `guildId` or
     * `channelId` says so, else in `user`'s DM. Resolves with the interaction once the app showed
     * something (or deleted its "thinking…" placeholder).
     */
    slashCommand(opts: {
      user: string;
      name: string;
      args?: string;
      options?: Record<string, string>;
      channelId?: string;
      guildId?: string;
      userName?: string;
    }): Promise<FakeInteraction> {
      const values = { ...opts.options, ...(opts.args === undefined ? {} : { args: opts.args }) };
      const options = Object.entries(values).map(([name, value]) => ({ name, type: 3, value }));
      const cmd = commands.find((c) => c.name === opts.name);
      const data = { id: (cmd?.id as string | undefined) ?? snowflake(), name: opts.name, type: 1, options };
      const where = opts.channelId ?? (opts.guildId ? GUILD_CHANNEL_ID : dmChannelId(opts.user));
      const i = interact({ user: opts.user, name: opts.userName, channelId: where, type: 2, data });
      return answered(i, `an answer to /${opts.name}`);
    },
    /** Clicks a button; the interaction at once (answers arrive later). Any custom_id may be sent. */
    press,
    /** Clicks a button; resolves with what the clicker was shown (ephemeral texts, as displayed). */
    async clickButton(opts: Click): Promise<string[]> {
      const i = press(opts);
      await answered(i, `an answer to the click on ${opts.customId}`);
      return [...i.shown];
    },
    interactions: () => [...interactions.values()] as FakeInteraction[],
    messagesIn: (channelId: string): FakeMessage[] => [...(channels.get(channelId)?.messages ?? [])],
    message: (channelId: string, id: string): FakeMessage | undefined =>
      channels.get(channelId)?.messages.find((m) => m.id === id),
    /** Buttons the message shows now (0 once removed). */
    buttonsOn: (channelId: string, id: string): number =>
      (
        (channels.get(channelId)?.messages.find((m) => m.id === id)?.components ?? []) as {
          components?: unknown[];
        }[]
      ).flatMap((r) => r.components ?? []).length,
    registeredCommands: (): Json[] => commands,
    async close(): Promise<void> {
      for (const x of sessions) x.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
