/**
 * Matrix specifics through the real matrix-js-sdk against our fake homeserver: invites (direct ones
 * joined, room invites only from people `mayInvite` accepts), encrypted rooms (one plain notice per
 * room), group mentions, rendering (HTML escaped, agent words labelled in code, no @room, event
 * size), and the access token kept out of errors and logs.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { buildCard } from "../../bot/cards.js";
import type { Card, InboundEvent, InboundMessage } from "../../bot/channel.js";
import { createMatrixChannel, type MatrixChannelOptions } from "../../bot/channels/matrix/index.js";
import type { ApprovalView } from "../../gateway/index.js";
import { type FakeHomeserver, startFakeHomeserver } from "../fakes/matrix-homeserver.js";

let hs: FakeHomeserver | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  await hs?.close();
  [hs, stop] = [undefined, undefined];
});

async function setUp(opts: Partial<MatrixChannelOptions> = {}) {
  const server = await startFakeHomeserver();
  hs = server;
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const channel = createMatrixChannel({
    homeserverUrl: server.baseUrl,
    accessToken: server.token,
    userId: server.botId,
    log: (event, fields) => void logs.push({ event, fields }),
    ...opts,
  });
  const events: InboundEvent[] = [];
  await channel.start(async (e) => void events.push(e));
  stop = () => channel.stop();
  const messages = () => events.filter((e): e is InboundMessage => e.kind === "message");
  return { hs: server, channel, logs, events, messages, ann: server.mxid("ann"), eve: server.mxid("eve") };
}

const view = (v: Partial<ApprovalView> = {}): ApprovalView => ({
  id: "0b6f3c1e-9d2a-4c3b-8e7f-1a2b3c4d5e6f",
  agent: "demo",
  method: "POST",
  url: "https://api.example.test/x",
  host: "api.example.test",
  path: "/x",
  policy: "github",
  rule: "merge",
  bodyPreview: "",
  bodyHidden: 0,
  bodyBytes: 0,
  contentType: null,
  contentEncoding: null,
  secrets: [],
  overrides: [],
  grantCovers: null,
  reason: null,
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
  needed: 1,
  approvals: [],
  approvers: ["role:owner"],
  grantMs: null,
  state: "pending",
  ...v,
});

describe("Matrix invites", () => {
  it("a direct invite is joined and listed in m.direct; the room is then that person's private chat", async () => {
    const w = await setUp();
    const room = w.hs.invite(w.ann, { isDirect: true });
    await vi.waitFor(() => expect(w.hs.isJoined(room, w.hs.botId)).toBe(true));
    await vi.waitFor(() => expect(w.hs.directOfBot()[w.ann]).toContain(room));
    w.hs.join(room, w.ann);
    w.hs.text(room, w.ann, "hi");
    await vi.waitFor(() => expect(w.messages()).toHaveLength(1));
    expect(w.messages()[0]).toMatchObject({ isPrivate: true, chat: { chatId: w.ann } });
  });

  it("a message in a DM the bot sees for the first time is answered in that DM, not a newly opened one", async () => {
    const server = await startFakeHomeserver();
    hs = server;
    const ann = server.mxid("ann");
    const channel = createMatrixChannel({
      homeserverUrl: server.baseUrl,
      accessToken: server.token,
      userId: server.botId,
      log: () => undefined,
    });
    // Answer at once, as the bot does: the SDK has not stored the brand-new room yet.
    await channel.start(async (e) => {
      if (e.kind === "message") await channel.sendText(e.chat, "hello back");
    });
    stop = () => channel.stop();
    const room = server.dmRoom(ann);
    server.text(room, ann, "/start");
    await vi.waitFor(() => expect(server.botTexts(room)).toEqual(["hello back"]));
    expect(server.dmRoomsOf(ann)).toEqual([room]);
  });

  it("a room invite from anyone mayInvite does not accept is declined; from one it accepts, joined", async () => {
    const w = await setUp({ mayInvite: async (id) => id === `matrix:${hs?.mxid("owner")}` });
    const strangers = w.hs.invite(w.eve);
    await vi.waitFor(() => expect(w.logs.map((l) => l.event)).toContain("matrix.invite_declined"));
    expect(w.hs.isJoined(strangers, w.hs.botId)).toBe(false);
    const owners = w.hs.invite(w.hs.mxid("owner"));
    await vi.waitFor(() => expect(w.hs.isJoined(owners, w.hs.botId)).toBe(true));
    expect(w.hs.directOfBot()[w.hs.mxid("owner")]).toBeUndefined();
  });
});

describe("Matrix encrypted rooms", () => {
  it("an encrypted event gets one plain notice per room saying Warden cannot read it; nothing reaches the bot", async () => {
    const w = await setUp();
    const room = w.hs.createRoom({ members: [w.ann], encrypted: true });
    const enc = { algorithm: "m.megolm.v1.aes-sha2", ciphertext: "AwgAEn…", session_id: "s", device_id: "D" };
    w.hs.inject(room, w.ann, "m.room.encrypted", enc);
    w.hs.inject(room, w.ann, "m.room.encrypted", enc);
    await vi.waitFor(() => expect(w.hs.botTexts(room)).toHaveLength(1));
    expect(w.hs.botTexts(room)[0]).toMatch(/^I cannot read end-to-end encrypted messages/);
    const other = w.hs.createRoom({ members: [w.eve], encrypted: true });
    w.hs.inject(other, w.eve, "m.room.encrypted", enc);
    await vi.waitFor(() => expect(w.hs.botTexts(other)).toHaveLength(1));
    expect(w.hs.botTexts(room)).toHaveLength(1);
    expect(w.events).toEqual([]);
    // Cards are never sent into an encrypted room in the clear: the bot hears it failed.
    await expect(w.channel.sendCard({ platform: "matrix", chatId: room }, buildCard(view()))).rejects.toThrow(
      /end-to-end encrypted/,
    );
  });
});

describe("Matrix groups", () => {
  it("a mention by user id or m.mentions, or a reply to us, is a mention; other chat is not", async () => {
    const w = await setUp();
    const group = w.hs.createRoom({ members: [w.ann, w.eve] });
    w.hs.inject(
      group,
      w.hs.botId,
      "m.room.member",
      { membership: "join", displayname: "Warden" },
      w.hs.botId,
    );
    const ours = await w.channel.sendText({ platform: "matrix", chatId: group }, "Hello all");
    w.hs.text(group, w.ann, `${w.hs.botId}: /agent list`);
    w.hs.text(group, w.ann, "Warden: status", { "m.mentions": { user_ids: [w.hs.botId, w.eve] } });
    w.hs.text(group, w.eve, "> <@warden:hs.test> Hello all\n\nthanks!", {
      "m.relates_to": { "m.in_reply_to": { event_id: ours.messageId } },
    });
    w.hs.text(group, w.eve, "dinner?");
    await vi.waitFor(() => expect(w.messages()).toHaveLength(4));
    expect(w.messages().map((m) => [m.text, m.mentioned, m.isPrivate, m.chat.chatId])).toEqual([
      ["/agent list", true, false, group],
      ["status", true, false, group],
      ["thanks!", true, false, group],
      ["dinner?", false, false, group],
    ]);
    expect(w.messages()[1]?.mentions).toEqual([w.eve]);
  });
});

describe("Matrix rendering", () => {
  it("card values are escaped inside code blocks; @room is broken; every event has empty m.mentions", async () => {
    const w = await setUp();
    const hostile = '</code></pre><a href="https://evil.test">Approved</a> @room <img src=x>';
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), buildCard(view({ reason: hostile })));
    const c = w.hs.shown(ref.messageId) as Record<string, unknown>;
    const html = String(c.formatted_body);
    expect(html).not.toContain('<a href="https://evil.test"');
    expect(html).toContain("&lt;/code&gt;&lt;/pre&gt;&lt;a href=&quot;https://evil.test&quot;&gt;");
    expect(html).not.toMatch(/@room/);
    expect(String(c.body)).toContain("Agent says (its own words)");
    expect(c["m.mentions"]).toEqual({});
    expect(c.msgtype).toBe("m.notice");
  });

  it("an agent's words come under its label, in a code block, escaped", async () => {
    const w = await setUp();
    const ref = await w.channel.sendText(w.channel.privateChat(w.ann), "<b>Warden:</b> approved ✅", {
      agent: "demo",
    });
    const c = w.hs.shown(ref.messageId) as Record<string, unknown>;
    expect(c.body).toBe("🤖 demo (agent)\n<b>Warden:</b> approved ✅");
    expect(c.formatted_body).toBe(
      "<p><em>🤖 demo (agent)</em></p><pre><code>&lt;b&gt;Warden:&lt;/b&gt; approved ✅</code></pre>",
    );
  });

  it("a card of huge escapable text stays under Matrix's 64 KiB event limit, its cut counted", async () => {
    const w = await setUp();
    const body = '<"&>'.repeat(20_000);
    const card: Card = buildCard(view({ bodyPreview: body, bodyBytes: body.length }));
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), card);
    const c = w.hs.shown(ref.messageId) as Record<string, unknown>;
    expect(Buffer.byteLength(JSON.stringify(c))).toBeLessThan(65_536);
    expect(String(c.body)).toMatch(/… \d+ more characters not shown/);
  });
});

describe("Matrix credentials", () => {
  it("a wrong token fails start with M_UNKNOWN_TOKEN in words; the token is in no error or log", async () => {
    const server = await startFakeHomeserver();
    hs = server;
    const wrong = "syt_wrong_token_zzzzzzzzzzzzzzzzzzzz";
    const logs: unknown[] = [];
    const channel = createMatrixChannel({
      homeserverUrl: server.baseUrl,
      accessToken: wrong,
      userId: server.botId,
      log: (e, f) => void logs.push([e, f]),
    });
    const err = await channel.start(async () => undefined).catch((e: Error) => e);
    expect(String(err)).toMatch(/access token was rejected \(MATRIX_ACCESS_TOKEN\)/);
    expect(`${String(err)} ${(err as Error).stack} ${JSON.stringify(logs)}`).not.toContain(wrong);
  });

  it("a token of another account is refused on start (MATRIX_USER_ID must match whoami)", async () => {
    const server = await startFakeHomeserver();
    hs = server;
    const channel = createMatrixChannel({
      homeserverUrl: server.baseUrl,
      accessToken: server.token,
      userId: "@someone-else:hs.test",
    });
    await expect(channel.start(async () => undefined)).rejects.toThrow(/belongs to @warden:hs.test/);
  });

  it("no log line carries the token or message text", async () => {
    const w = await setUp();
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), buildCard(view()));
    w.hs.text(w.hs.dmRoom(w.ann), w.ann, "my secret words");
    w.hs.react(w.hs.roomOfEvent(ref.messageId) as string, w.eve, ref.messageId, "✅");
    await vi.waitFor(() => expect(w.messages()).toHaveLength(1));
    const all = JSON.stringify(w.logs);
    expect(all).not.toContain(w.hs.token);
    expect(all).not.toContain("my secret words");
  });
});
