/**
 * A fake Slack on 127.0.0.1:0: the Web API (`POST /api/<method>`, form or JSON bodies, token in the
 * Authorization header, `{ok:true,…}` / `{ok:false,error}` with HTTP 200, HTTP 429 + Retry-After)
 * and Socket Mode (`apps.connections.open` hands out `ws://127.0.0.1:PORT/link/?ticket=…`; the
 * socket says `{"type":"hello"}`, then carries envelopes and the app's acks). Pass `apiUrl` as
 * Bolt's `clientOptions.slackApiUrl`. Tests play people: slash commands, messages, mentions and
 * button clicks go out as real envelope payloads and resolve once the app acked (a click resolves
 * with what only the clicker was shown). Message text is given and stored in Slack's wire format
 * (`<@U…>`, `&lt;`); `texts()` and ephemerals are decoded to what a person would read.
 * Lenient where the real server is not: any user id gets a DM, ephemerals need no membership.
 */
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

export type Params = Record<string, unknown>;
export interface SlackMessage {
  channel: string;
  ts: string;
  text: string;
  user?: string;
  bot_id?: string;
  blocks?: Params[];
  thread_ts?: string;
}
export interface Ephemeral {
  readonly channel: string;
  readonly user: string;
  /** As a person reads it (entities decoded). */
  readonly text: string;
}
type Button = { action_id: string; value?: string; text?: { text?: string } };

export const SLACK_BOT = { userId: "UWARDEN01", botId: "BWARDEN01", teamId: "T0WARDEN1", appId: "A0WARDEN1" };

/** Slack's entity decoding, for reading what a person sees. */
export const slackUnescape = (s: string): string =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

/** Headers Slack signs an HTTP-mode request with (`v0=HMAC_SHA256(secret, "v0:ts:body")`). */
export function slackSignature(secret: string, body: string, ts = Math.floor(Date.now() / 1000)) {
  const sig = createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex");
  return { "x-slack-request-timestamp": String(ts), "x-slack-signature": `v0=${sig}` };
}

/** Starts the fake; everything it serves is on 127.0.0.1. */
export async function startFakeSlack(opts: { botToken?: string; appToken?: string } = {}) {
  const botToken = opts.botToken ?? "xoxb-1111-2222-FAKEbotTOKEN";
  const appToken = opts.appToken ?? "xapp-1-A0WARDEN1-3333-FAKEappTOKEN";
  const calls: { method: string; params: Params }[] = [];
  const messages: SlackMessage[] = [];
  const ephemerals: Ephemeral[] = [];
  const responses: Params[] = [];
  const dms = new Map<string, string>(); // user → D…
  const failures = new Map<string, { error: string; retryAfter: number }[]>();
  const sockets: WebSocket[] = [];
  const acks = new Map<string, (payload: Params) => void>();
  const tickets = new Set<string>();
  const timeZones = new Map<string, string>();
  const base = Math.floor(Date.now() / 1000);
  let seq = 0;
  const nextTs = () => `${base}.${String(++seq).padStart(6, "0")}`;
  const nextId = (prefix: string) => `${prefix}${String(++seq).padStart(8, "0")}`;

  const dmWith = (user: string): string => {
    const dm = dms.get(user) ?? nextId("D");
    dms.set(user, dm);
    return dm;
  };
  /** A conversation id, or a user id standing for their DM. */
  const conv = (c: string): string => (/^[CGD][A-Z0-9]{2,}$/.test(c) ? c : dmWith(c));
  const find = (channel: string, ts: string) => messages.find((m) => m.channel === channel && m.ts === ts);
  const ownerOf = (dm: string) => [...dms].find(([, d]) => d === dm)?.[0];

  class SlackError extends Error {}
  const fail = (error: string): never => {
    throw new SlackError(error);
  };

  function checkBlocks(blocks: unknown): Params[] | undefined {
    if (blocks === undefined) return undefined;
    if (!Array.isArray(blocks) || blocks.length > 50) return fail("invalid_blocks");
    const ids = new Set<string>();
    const text = (t: unknown, max: number) => {
      const s = (t as { text?: unknown } | undefined)?.text;
      if (typeof s !== "string" || s.length === 0 || s.length > max) fail("invalid_blocks");
    };
    for (const b of blocks as Params[]) {
      if (b.type === "header") text(b.text, 150);
      if (b.type === "section" && b.text) text(b.text, 3000);
      if (b.type === "section" && b.fields) for (const f of b.fields as unknown[]) text(f, 2000);
      if (b.type === "context") for (const e of b.elements as unknown[]) text(e, 3000);
      if (b.type === "actions") {
        const els = b.elements as Button[];
        if (els.length === 0 || els.length > 25) fail("invalid_blocks");
        for (const e of els) {
          text(e.text, 75);
          if (ids.has(e.action_id) || (e.value?.length ?? 0) > 2000) fail("invalid_blocks");
          ids.add(e.action_id);
        }
      }
    }
    return blocks as Params[];
  }

  function postMessage(p: Params): SlackMessage {
    const text = typeof p.text === "string" ? p.text : "";
    const blocks = checkBlocks(p.blocks);
    if (!text && !blocks) fail("no_text");
    if (text.length > 40_000) fail("msg_too_long");
    const channel = conv(String(p.channel ?? fail("channel_not_found")));
    const m: SlackMessage = { channel, ts: nextTs(), text, user: SLACK_BOT.userId, bot_id: SLACK_BOT.botId };
    if (blocks) m.blocks = blocks;
    if (typeof p.thread_ts === "string") m.thread_ts = p.thread_ts;
    messages.push(m);
    return m;
  }

  function api(method: string, p: Params): Params {
    switch (method) {
      case "auth.test":
        return {
          url: "https://warden-test.slack.com/",
          team: "Warden Test",
          user: "warden",
          team_id: SLACK_BOT.teamId,
          user_id: SLACK_BOT.userId,
          bot_id: SLACK_BOT.botId,
          is_enterprise_install: false,
        };
      case "apps.connections.open": {
        const ticket = randomUUID();
        tickets.add(ticket);
        return { url: `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=${SLACK_BOT.appId}` };
      }
      case "chat.postMessage": {
        const m = postMessage(p);
        return { channel: m.channel, ts: m.ts, message: { type: "message", ...m } };
      }
      case "chat.update": {
        const m = find(String(p.channel), String(p.ts)) ?? fail("message_not_found");
        if (m.bot_id !== SLACK_BOT.botId) fail("cant_update_message");
        m.text = typeof p.text === "string" ? p.text : "";
        const blocks = checkBlocks(p.blocks);
        if (blocks) m.blocks = blocks;
        else delete m.blocks;
        return { channel: m.channel, ts: m.ts, text: m.text, message: { type: "message", ...m } };
      }
      case "chat.postEphemeral": {
        const channel = conv(String(p.channel ?? fail("channel_not_found")));
        if (typeof p.user !== "string") fail("user_not_found");
        ephemerals.push({ channel, user: String(p.user), text: slackUnescape(String(p.text ?? "")) });
        return { message_ts: nextTs() };
      }
      case "chat.delete": {
        const m = find(String(p.channel), String(p.ts)) ?? fail("message_not_found");
        if (m.bot_id !== SLACK_BOT.botId) fail("cant_delete_message");
        messages.splice(messages.indexOf(m), 1);
        return { channel: m.channel, ts: m.ts };
      }
      case "users.info": {
        const user = String(p.user ?? fail("user_not_found"));
        const tz = timeZones.get(user);
        return { user: { id: user, name: user.toLowerCase(), ...(tz === undefined ? {} : { tz }) } };
      }
      case "conversations.open":
        return { channel: { id: dmWith(String(p.users ?? fail("users_list_not_supplied")).split(",")[0]!) } };
      case "conversations.info": {
        const id = String(p.channel);
        const user = ownerOf(id);
        if (user) return { channel: { id, is_im: true, user } };
        if (/^[CG][A-Z0-9]{2,}$/.test(id))
          return { channel: { id, is_channel: true, name: id.toLowerCase() } };
        return fail("channel_not_found");
      }
      default:
        return fail("unknown_method");
    }
  }

  function parseBody(req: IncomingMessage, raw: string): Params {
    if ((req.headers["content-type"] ?? "").includes("application/json")) return raw ? JSON.parse(raw) : {};
    const p: Params = Object.fromEntries(new URLSearchParams(raw));
    for (const k of ["blocks", "attachments"])
      if (typeof p[k] === "string") p[k] = JSON.parse(p[k] as string);
    return p;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const send = (status: number, body: Params, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
        res.end(JSON.stringify(body));
      };
      const { token, ...params } = parseBody(req, Buffer.concat(chunks).toString("utf8"));
      if (path.startsWith("/response/")) {
        responses.push(params);
        return send(200, { ok: true });
      }
      const method = /^\/api\/([\w.]+)$/.exec(path)?.[1];
      if (!method) return send(404, { ok: false, error: "unknown_method" });
      calls.push({ method, params });
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? token;
      const failure = failures.get(method)?.shift();
      if (failure?.error === "ratelimited") {
        return send(429, { ok: false, error: "ratelimited" }, { "retry-after": String(failure.retryAfter) });
      }
      try {
        if (!bearer) fail("not_authed");
        if (bearer !== (method === "apps.connections.open" ? appToken : botToken)) fail("invalid_auth");
        if (failure) fail(failure.error);
        send(200, { ok: true, ...api(method, params) });
      } catch (err) {
        if (!(err instanceof SlackError)) return send(500, { ok: false, error: "fatal_error" });
        send(200, { ok: false, error: err.message });
      }
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://x");
    const ticket = url.searchParams.get("ticket") ?? "";
    if (url.pathname !== "/link/" || !tickets.delete(ticket)) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.push(ws);
      ws.on("message", (data) => {
        const ack = JSON.parse(String(data)) as { envelope_id?: string; payload?: Params };
        if (ack.envelope_id) acks.get(ack.envelope_id)?.(ack.payload ?? {});
      });
      ws.on("close", () => sockets.splice(sockets.indexOf(ws), 1));
      ws.send(
        JSON.stringify({
          type: "hello",
          num_connections: sockets.length,
          connection_info: { app_id: SLACK_BOT.appId },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  /** Sends an envelope on the newest open socket; resolves with the app's ack payload (undefined: nobody connected). */
  function push(
    type: "events_api" | "slash_commands" | "interactive",
    payload: Params,
  ): Promise<Params | undefined> {
    const ws = [...sockets].reverse().find((s) => s.readyState === WebSocket.OPEN);
    if (!ws) return Promise.resolve(undefined);
    const envelope_id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        acks.delete(envelope_id);
        reject(new Error(`fake Slack: no ack for ${type} within 5 s`));
      }, 5000);
      acks.set(envelope_id, (p) => {
        clearTimeout(timer);
        acks.delete(envelope_id);
        resolve(p);
      });
      ws.send(
        JSON.stringify({
          envelope_id,
          type,
          payload,
          accepts_response_payload: type !== "events_api",
          retry_attempt: 0,
          retry_reason: "",
        }),
      );
    });
  }

  function event(e: Params): Promise<Params | undefined> {
    return push("events_api", {
      token: "verification-token",
      team_id: SLACK_BOT.teamId,
      api_app_id: SLACK_BOT.appId,
      event: { ...e, event_ts: e.ts, team: SLACK_BOT.teamId },
      type: "event_callback",
      event_id: nextId("Ev"),
      event_time: base,
      authorizations: [
        {
          enterprise_id: null,
          team_id: SLACK_BOT.teamId,
          user_id: SLACK_BOT.userId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
    });
  }

  function record(user: string, channel: string, text: string, thread_ts?: string): SlackMessage {
    const m: SlackMessage = { channel, ts: nextTs(), text, user, ...(thread_ts ? { thread_ts } : {}) };
    messages.push(m);
    return m;
  }
  const channelType = (c: string) => (c.startsWith("D") ? "im" : c.startsWith("G") ? "group" : "channel");
  const parentUser = (channel: string, thread_ts?: string) =>
    thread_ts ? { parent_user_id: find(channel, thread_ts)?.user ?? "UNKNOWN" } : {};

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    botToken,
    appToken,
    calls,
    /** Params of every call to `method`, in order (token removed). */
    callsTo: (method: string): Params[] => calls.filter((c) => c.method === method).map((c) => c.params),
    /** The next call to `method` fails with Slack error `error` (429: HTTP 429 + Retry-After seconds). */
    failNext(method: string, error: string | 429, retryAfter = 1): void {
      const f = { error: error === 429 ? "ratelimited" : error, retryAfter };
      failures.set(method, [...(failures.get(method) ?? []), f]);
    },
    /** The bot's DM channel with `user` (what conversations.open returns). */
    dmWith,
    /** The time zone users.info reports for `user` (absent: none, like a user who never set one). */
    setTimeZone: (user: string, tz: string): void => void timeZones.set(user, tz),
    /** Open Socket Mode connections. */
    connections: (): number => sockets.filter((s) => s.readyState === WebSocket.OPEN).length,
    /** A person sends `text` (wire format); default: in their DM with the bot. */
    async message(o: {
      user: string;
      text: string;
      channel?: string;
      thread_ts?: string;
      subtype?: string;
      bot_id?: string;
    }) {
      const channel = conv(o.channel ?? o.user);
      const m = record(o.user, channel, o.text, o.thread_ts);
      const extra = {
        ...(o.subtype ? { subtype: o.subtype } : {}),
        ...(o.bot_id ? { bot_id: o.bot_id } : {}),
      };
      const thread = o.thread_ts ? { thread_ts: o.thread_ts, ...parentUser(channel, o.thread_ts) } : {};
      await event({
        type: "message",
        client_msg_id: randomUUID(),
        user: o.user,
        text: o.text,
        ts: m.ts,
        channel,
        channel_type: channelType(channel),
        ...thread,
        ...extra,
      });
      return m;
    },
    /** A person writes `<@bot> text` in a channel; delivers the `app_mention` event. */
    async mention(o: { user: string; channel: string; text: string; thread_ts?: string }) {
      const text = `<@${SLACK_BOT.userId}> ${o.text}`;
      const m = record(o.user, o.channel, text, o.thread_ts);
      await event({
        type: "app_mention",
        client_msg_id: randomUUID(),
        user: o.user,
        text,
        ts: m.ts,
        channel: o.channel,
        ...(o.thread_ts ? { thread_ts: o.thread_ts } : {}),
      });
      return m;
    },
    /** A person runs `/command text`; default: in their DM with the bot. Resolves with the app's ack. */
    slashCommand(o: { user: string; command: string; text?: string; channel?: string; userName?: string }) {
      const channel = conv(o.channel ?? o.user);
      return push("slash_commands", {
        token: "verification-token",
        team_id: SLACK_BOT.teamId,
        team_domain: "warden-test",
        channel_id: channel,
        channel_name: channel.startsWith("D") ? "directmessage" : channel.toLowerCase(),
        user_id: o.user,
        user_name: o.userName ?? o.user.toLowerCase(),
        command: o.command,
        text: o.text ?? "",
        api_app_id: SLACK_BOT.appId,
        is_enterprise_install: "false",
        response_url: `http://127.0.0.1:${port}/response/${nextId("R")}`,
        trigger_id: nextId("TR"),
      });
    },
    /**
     * A person clicks the button with `value` on message `ts` (default: in their DM); resolves with
     * what only they were then shown, waiting up to 5 s for it unless `expectReply` is false.
     */
    async clickButton(o: {
      user: string;
      ts: string;
      value: string;
      channel?: string;
      actionId?: string;
      userName?: string;
      expectReply?: boolean;
    }): Promise<string[]> {
      const channel = conv(o.channel ?? o.user);
      const msg = find(channel, o.ts);
      const actions = (msg?.blocks ?? []).filter((b) => b.type === "actions");
      const block = actions.find((b) => (b.elements as Button[]).some((e) => e.value === o.value));
      const button = (block?.elements as Button[] | undefined)?.find((e) => e.value === o.value);
      const before = ephemerals.length;
      const mine = () => ephemerals.slice(before).filter((e) => e.user === o.user && e.channel === channel);
      const name = o.userName ?? o.user.toLowerCase();
      await push("interactive", {
        type: "block_actions",
        user: { id: o.user, username: name, name, team_id: SLACK_BOT.teamId },
        api_app_id: SLACK_BOT.appId,
        token: "verification-token",
        trigger_id: nextId("TR"),
        container: { type: "message", message_ts: o.ts, channel_id: channel, is_ephemeral: false },
        team: { id: SLACK_BOT.teamId, domain: "warden-test" },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: channel, name: channel.startsWith("D") ? "directmessage" : channel.toLowerCase() },
        message: { type: "message", ...(msg ?? { ts: o.ts, text: "" }) },
        state: { values: {} },
        response_url: `http://127.0.0.1:${port}/response/${nextId("R")}`,
        actions: [
          {
            action_id: button?.action_id ?? o.actionId ?? "warden_card_0",
            block_id: String(block?.block_id ?? "forged"),
            text: { type: "plain_text", text: button?.text?.text ?? "?" },
            value: o.value,
            type: "button",
            action_ts: nextTs(),
          },
        ],
      });
      const end = Date.now() + (o.expectReply === false ? 0 : 5000);
      while (mine().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50)); // a second reply would be a bug: give it a chance to show
      return mine().map((e) => e.text);
    },
    /** Messages in a conversation (or a user's DM), oldest first, in wire format, current state. */
    posted: (channel: string): SlackMessage[] => messages.filter((m) => m.channel === conv(channel)),
    /** Texts the bot posted in a conversation, as a person reads them. */
    texts: (channel: string): string[] =>
      messages.filter((m) => m.channel === conv(channel) && m.bot_id).map((m) => slackUnescape(m.text)),
    /** A message's current state. */
    current: (channel: string, ts: string): SlackMessage | undefined => find(conv(channel), ts),
    /** Buttons currently on a message. */
    buttons: (channel: string, ts: string): Button[] =>
      (find(conv(channel), ts)?.blocks ?? [])
        .filter((b) => b.type === "actions")
        .flatMap((b) => b.elements as Button[]),
    ephemerals: (): readonly Ephemeral[] => ephemerals,
    /** Bodies POSTed to response_urls. */
    responses: (): readonly Params[] => responses,
    async close(): Promise<void> {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeSlack = Awaited<ReturnType<typeof startFakeSlack>>;
