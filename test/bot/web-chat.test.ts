/**
 * The web chat channel over real HTTP on 127.0.0.1 (no browser): sign-in, sessions, CSRF, caps,
 * live events and what reaches the bot's handler.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Card, InboundAction, InboundEvent, InboundMessage } from "../../bot/channel.js";
import { CLIENT_SCRIPT } from "../../bot/channels/web/client-script.js";
import { createWebChannel, type WebChannel, type WebChannelOptions } from "../../bot/channels/web/index.js";
import { cardReadInFull, channelContract } from "../contracts/channel.contract.js";
import { pollUntil } from "../fakes/poll-until.js";

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(
  base: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** The fields the tests read from an SSE event's data. */
interface SseData {
  message?: { id: string; chatId: string; text?: string; card?: Card };
  title?: string;
  messageId?: string;
  text?: string;
}

/** A minimal EventSource: collects `{event, data}` from GET /events. */
function openEvents(
  base: string,
  cookie: string,
): Promise<{ events: { event: string; data: SseData }[]; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL("/events", base), { headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
      const events: { event: string; data: SseData }[] = [];
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
      });
      resolve({ events, close: () => req.destroy() });
    });
    req.on("error", () => {});
    req.end();
  });
}

const CARD: Card = {
  title: "Approve POST api.example.test/pay?",
  lines: [{ label: "Agent", value: "billing" }],
  agentSays: "Paying invoice 42",
  status: "Waiting: 0 of 1 approvals",
  buttons: [
    { label: "Approve", data: "ap:1:approve", style: "primary" },
    { label: "Deny", data: "ap:1:deny", style: "danger" },
  ],
};

let channel: WebChannel | undefined;
afterEach(async () => {
  await channel?.stop();
  channel = undefined;
});

async function setup(opts: { sessionFile?: string; pairing?: WebChannelOptions["pairing"] } = {}) {
  const tokens = new Map([
    ["owner-token-1234", { userId: "u1", name: "Olive Owner" }],
    ["invite-token-5678", { userId: "u2", name: "Ivan Invitee" }],
  ]);
  const received: InboundEvent[] = [];
  const ch = createWebChannel({
    host: "127.0.0.1",
    port: 0,
    sessionFile: opts.sessionFile,
    pairing: opts.pairing,
    verifyToken: async (token) => {
      const person = tokens.get(token);
      tokens.delete(token); // one-time
      return person;
    },
  });
  channel = ch;
  await ch.start(async (e) => {
    received.push(e);
  });
  return { ch, base: ch.url, received };
}

async function signIn(
  base: string,
  path = "/claim/owner-token-1234",
): Promise<{ cookie: string; csrf: string }> {
  const res = await http(base, "GET", path);
  expect(res.status).toBe(303);
  const cookie = String(res.headers["set-cookie"]).split(";")[0]!;
  const page = await http(base, "GET", "/", { headers: { cookie } });
  const csrf = /name="warden-csrf" content="([^"]+)"/.exec(page.body)?.[1];
  expect(csrf).toBeDefined();
  return { cookie, csrf: csrf! };
}

function postJson(base: string, path: string, s: { cookie: string; csrf?: string }, body: unknown) {
  const headers: Record<string, string> = { cookie: s.cookie, "content-type": "application/json" };
  if (s.csrf !== undefined) headers["x-warden-csrf"] = s.csrf;
  return http(base, "POST", path, { headers, body: JSON.stringify(body) });
}

describe("createWebChannel()", () => {
  it("shows the WhatsApp pairing code only to a session the pairing option accepts (the owner)", async () => {
    let svg: string | undefined = '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1v1H0z"/></svg>';
    const { base } = await setup({ pairing: { svg: () => svg, mayView: async (userId) => userId === "u1" } });
    expect((await http(base, "GET", "/pair/whatsapp")).status).toBe(403);
    const invitee = await signIn(base, "/invite/invite-token-5678");
    const refused = await http(base, "GET", "/pair/whatsapp", { headers: { cookie: invitee.cookie } });
    expect([refused.status, refused.body.includes("<svg")]).toEqual([403, false]);
    const owner = await signIn(base);
    const shown = await http(base, "GET", "/pair/whatsapp", { headers: { cookie: owner.cookie } });
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('<path d="M0 0h1v1H0z"/>');
    expect(shown.body).toContain('http-equiv="refresh"');
    svg = undefined;
    const none = await http(base, "GET", "/pair/whatsapp", { headers: { cookie: owner.cookie } });
    expect(none.body).toMatch(/No pairing code is waiting/);
  });

  it("claim link sets an HttpOnly SameSite=Strict session cookie and redirects to /; the token works once", async () => {
    const { base } = await setup();
    const res = await http(base, "GET", "/claim/owner-token-1234");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/");
    const setCookie = String(res.headers["set-cookie"]);
    expect(setCookie).toMatch(/^warden_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    const again = await http(base, "GET", "/claim/owner-token-1234");
    expect(again.status).toBe(403);
    expect(again.headers["set-cookie"]).toBeUndefined();
    expect((await http(base, "GET", "/invite/invite-token-5678")).status).toBe(303);
  });

  it("refuses unauthenticated access and offers no self-registration", async () => {
    const { base } = await setup();
    const page = await http(base, "GET", "/");
    expect(page.status).toBe(200);
    expect(page.body).toContain("warden start");
    expect(page.body).not.toContain("warden-csrf");
    for (const cookie of [
      undefined,
      "warden_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "warden_session=<x>",
    ]) {
      const headers: Record<string, string> = cookie ? { cookie } : {};
      expect((await http(base, "GET", "/api/state", { headers })).status).toBe(401);
      expect((await http(base, "GET", "/events", { headers })).status).toBe(401);
      const send = await http(base, "POST", "/api/send", {
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ chatId: "dm:u1", text: "hi" }),
      });
      expect(send.status).toBe(401);
    }
    expect((await http(base, "GET", "/signin?name=mallory")).status).toBe(404);
    expect((await http(base, "GET", "/claim/bogus-token-000")).status).toBe(403);
  });

  it("refuses requests whose Host is not this server (DNS rebinding)", async () => {
    const { base } = await setup();
    const res = await http(base, "GET", "/", { headers: { host: "evil.test" } });
    expect(res.status).toBe(421);
  });

  it("delivers a typed message to the handler as an InboundMessage", async () => {
    const { base, received } = await setup();
    const s = await signIn(base);
    const res = await postJson(base, "/api/send", s, { chatId: "dm:u1", text: "/agent list" });
    expect(res.status).toBe(202);
    const msg = (await pollUntil("message", async () => received[0])) as InboundMessage;
    expect(msg).toMatchObject({
      kind: "message",
      from: { id: "web:u1", name: "Olive Owner" },
      chat: { platform: "web", chatId: "dm:u1" },
      isPrivate: true,
      mentioned: true,
      text: "/agent list",
      ref: { platform: "web", chatId: "dm:u1", messageId: JSON.parse(res.body).messageId },
    });
  });

  it("pushes sent cards, card updates and deletions over SSE, and keeps history for reloads", async () => {
    const { ch, base } = await setup();
    const s = await signIn(base);
    const sse = await openEvents(base, s.cookie);
    const ref = await ch.sendCard({ platform: "web", chatId: "agent:billing" }, CARD);
    const first = await pollUntil("card event", async () => sse.events.find((e) => e.event === "msg"));
    expect(first.data.message).toMatchObject({ id: ref.messageId, chatId: "agent:billing", card: CARD });
    expect(first.data.title).toBe("billing");
    await ch.updateCard(ref, { ...CARD, status: "Approved by Olive", buttons: [] });
    const upd = await pollUntil("update", async () => sse.events.find((e) => e.event === "card"));
    expect(upd.data.message?.card).toMatchObject({ status: "Approved by Olive", buttons: [] });
    const text = await ch.sendText({ platform: "web", chatId: "agent:billing" }, "done");
    let state = JSON.parse((await http(base, "GET", "/api/state", { headers: { cookie: s.cookie } })).body);
    expect(state.chats.map((c: { title: string }) => c.title)).toEqual(["Warden", "billing"]);
    expect(state.chats[1].messages).toHaveLength(2);
    await ch.deleteMessage!(text);
    await pollUntil("delete", async () =>
      sse.events.find((e) => e.event === "del" && e.data.messageId === text.messageId),
    );
    state = JSON.parse((await http(base, "GET", "/api/state", { headers: { cookie: s.cookie } })).body);
    expect(state.chats[1].messages).toHaveLength(1);
    sse.close();
  });

  it("turns a button tap into an InboundAction whose reply toasts only the tapper", async () => {
    const { ch, base, received } = await setup();
    const owner = await signIn(base);
    const other = await signIn(base, "/invite/invite-token-5678");
    const ownerEvents = await openEvents(base, owner.cookie);
    const otherEvents = await openEvents(base, other.cookie);
    const ref = await ch.sendCard({ platform: "web", chatId: "agent:billing" }, CARD);
    const res = await postJson(base, "/api/action", owner, {
      chatId: ref.chatId,
      messageId: ref.messageId,
      data: "ap:1:approve",
    });
    expect(res.status).toBe(202);
    const action = (await pollUntil("action", async () => received[0])) as InboundAction;
    expect(action).toMatchObject({
      kind: "action",
      from: { id: "web:u1" },
      chat: { chatId: "agent:billing" },
      data: "ap:1:approve",
      ref,
    });
    await action.reply("Approved.");
    await pollUntil("toast", async () =>
      ownerEvents.events.find((e) => e.event === "toast" && e.data.text === "Approved."),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(otherEvents.events.some((e) => e.event === "toast")).toBe(false);
    expect(otherEvents.events.some((e) => e.event === "msg")).toBe(true); // agent chats are shared
    ownerEvents.close();
    otherEvents.close();
  });

  it("counts a tap only for a button the card currently shows", async () => {
    const { ch, base, received } = await setup();
    const s = await signIn(base);
    const ref = await ch.sendCard({ platform: "web", chatId: "agent:billing" }, CARD);
    const tap = (data: string) =>
      postJson(base, "/api/action", s, { chatId: ref.chatId, messageId: ref.messageId, data });
    expect((await tap("ap:1:forged")).status).toBe(409);
    await ch.updateCard(ref, { ...CARD, buttons: [] });
    expect((await tap("ap:1:approve")).status).toBe(409);
    const t = await ch.sendText({ platform: "web", chatId: "agent:billing" }, "not a card");
    expect(
      (await postJson(base, "/api/action", s, { chatId: t.chatId, messageId: t.messageId, data: "x" }))
        .status,
    ).toBe(404);
    expect(received).toHaveLength(0);
  });

  it("keeps private chats private: other people neither see nor write to them", async () => {
    const { ch, base } = await setup();
    await signIn(base);
    const other = await signIn(base, "/invite/invite-token-5678");
    const events = await openEvents(base, other.cookie);
    await ch.sendText(ch.privateChat("u1"), "secret for u1");
    await ch.sendText(ch.privateChat("u2"), "hello u2");
    await pollUntil("own dm", async () => events.events.find((e) => e.event === "msg"));
    expect(events.events.map((e) => e.data.message?.text)).toEqual(["hello u2"]);
    expect((await postJson(base, "/api/send", other, { chatId: "dm:u1", text: "hi" })).status).toBe(404);
    expect((await postJson(base, "/api/send", other, { chatId: "agent:unknown", text: "hi" })).status).toBe(
      404,
    );
    const state = JSON.parse(
      (await http(base, "GET", "/api/state", { headers: { cookie: other.cookie } })).body,
    );
    expect(JSON.stringify(state)).not.toContain("secret for u1");
    events.close();
  });

  it("requires the session's CSRF token on every POST", async () => {
    const { base, received } = await setup();
    const s = await signIn(base);
    expect(
      (await postJson(base, "/api/send", { cookie: s.cookie }, { chatId: "dm:u1", text: "x" })).status,
    ).toBe(403);
    expect(
      (await postJson(base, "/api/send", { cookie: s.cookie, csrf: "wrong" }, { chatId: "dm:u1", text: "x" }))
        .status,
    ).toBe(403);
    const crossOrigin = await http(base, "POST", "/api/send", {
      headers: {
        cookie: s.cookie,
        "x-warden-csrf": s.csrf,
        origin: "http://evil.test",
        "content-type": "application/json",
      },
      body: JSON.stringify({ chatId: "dm:u1", text: "x" }),
    });
    expect(crossOrigin.status).toBe(403);
    expect((await postJson(base, "/api/action", { cookie: s.cookie }, {})).status).toBe(403);
    expect(received).toHaveLength(0);
  });

  it("refuses text over 100 KB with 413 and malformed bodies with 400", async () => {
    const { base, received } = await setup();
    const s = await signIn(base);
    expect(
      (await postJson(base, "/api/send", s, { chatId: "dm:u1", text: "a".repeat(150 * 1024) })).status,
    ).toBe(413);
    // Under the body cap but over the text cap (escaping makes the body larger than the text).
    expect(
      (await postJson(base, "/api/send", s, { chatId: "dm:u1", text: "\n".repeat(101 * 1024) })).status,
    ).toBe(413);
    expect((await postJson(base, "/api/send", s, { chatId: "dm:u1", text: 42 })).status).toBe(400);
    const bad = await http(base, "POST", "/api/send", {
      headers: { cookie: s.cookie, "x-warden-csrf": s.csrf, "content-type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(
      (await postJson(base, "/api/send", s, { chatId: "dm:u1", text: "a".repeat(100 * 1024) })).status,
    ).toBe(202);
    expect(received).toHaveLength(1);
  });

  it("delivers markup as text, and the page script never parses data as HTML", async () => {
    const { ch, base, received } = await setup();
    const s = await signIn(base);
    const xss = "<img src=x onerror=alert(1)>";
    await postJson(base, "/api/send", s, { chatId: "dm:u1", text: xss });
    await ch.sendCard(
      { platform: "web", chatId: "agent:evil" },
      { ...CARD, title: xss, agentSays: `</script>${xss}` },
    );
    const msg = (await pollUntil("xss message", async () => received[0])) as InboundMessage;
    expect(msg.text).toBe(xss);
    const page = await http(base, "GET", "/", { headers: { cookie: s.cookie } });
    expect(page.body).not.toContain("<img");
    expect(page.headers["content-security-policy"]).toContain("script-src 'nonce-");
    const state = JSON.parse((await http(base, "GET", "/api/state", { headers: { cookie: s.cookie } })).body);
    expect(state.chats[0].messages[0].text).toBe(xss);
    expect(CLIENT_SCRIPT).not.toMatch(
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|setAttribute\("on/,
    );
  });

  it("persists sessions to the session file as hashes (0600) and honours them after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "warden-web-"));
    try {
      const file = join(dir, "sessions.json");
      const first = await setup({ sessionFile: file });
      const s = await signIn(first.base);
      await first.ch.stop();
      const text = await readFile(file, "utf8");
      expect(text).not.toContain(s.cookie.split("=")[1]);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const second = await setup({ sessionFile: file });
      const state = await http(second.base, "GET", "/api/state", { headers: { cookie: s.cookie } });
      expect(state.status).toBe(200);
      expect(JSON.parse(state.body).me).toEqual({ id: "web:u1", name: "Olive Owner" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps the last 500 messages per chat and splits long outbound text", async () => {
    const { ch, base } = await setup();
    const s = await signIn(base);
    for (let i = 0; i < 505; i++) await ch.sendText(ch.privateChat("u1"), `m${i}`);
    await ch.sendText(ch.privateChat("u1"), "x".repeat(45_000));
    const state = JSON.parse((await http(base, "GET", "/api/state", { headers: { cookie: s.cookie } })).body);
    const msgs = state.chats[0].messages as { text: string }[];
    expect(msgs).toHaveLength(500);
    expect(msgs.slice(-3).map((m) => m.text.length)).toEqual([20_000, 20_000, 5_000]);
    expect(ch.privateChat("u1")).toEqual({ platform: "web", chatId: "dm:u1" });
  });
});

/** The shared Channel contract, driven through HTTP as a signed-in person of each private chat. */
channelContract("web", async () => {
  const ch = createWebChannel({
    host: "127.0.0.1",
    port: 0,
    verifyToken: async (token) => {
      const m = /^contract-([0-9]+)$/.exec(token);
      return m ? { userId: m[1]!, name: `User ${m[1]}` } : undefined;
    },
  });
  const cookies = new Map<string, { cookie: string; csrf: string }>();
  async function as(userId: string): Promise<{ cookie: string; csrf: string }> {
    let s = cookies.get(userId);
    if (s === undefined) {
      s = await signIn(ch.url, `/claim/contract-${userId}`);
      cookies.set(userId, s);
    }
    return s;
  }
  async function state(
    chatId: string,
  ): Promise<{ chatId: string; messages: { id: string; text?: string; card?: Card }[] }> {
    const s = await as(chatId.slice("dm:".length));
    const body = JSON.parse(
      (await http(ch.url, "GET", "/api/state", { headers: { cookie: s.cookie } })).body,
    );
    return body.chats.find((c: { chatId: string }) => c.chatId === chatId);
  }
  return {
    channel: ch,
    maxTextLength: 20_000,
    async injectPrivateText(userId, text) {
      try {
        await postJson(ch.url, "/api/send", await as(userId), { chatId: `dm:${userId}`, text });
      } catch {
        // Stopped: the server is gone, so nothing can be delivered (what the contract checks).
      }
    },
    async textsIn(chatId) {
      return (await state(chatId)).messages.flatMap((m) => (m.text === undefined ? [] : [m.text]));
    },
    async buttonsOn(ref) {
      return (
        (await state(ref.chatId)).messages.find((m) => m.id === ref.messageId)?.card?.buttons.length ?? 0
      );
    },
    // The page script shows every field whole with its notice (checked in a browser by web-browser.test.ts).
    async shownOn(ref) {
      const card = (await state(ref.chatId)).messages.find((m) => m.id === ref.messageId)?.card;
      return { text: card ? cardReadInFull(card) : "", buttons: card?.buttons.map((b) => b.label) ?? [] };
    },
  };
});
