/**
 * Attacks on the Matrix channel, through the real matrix-js-sdk against our fake homeserver: which
 * reactions count as taps (only a person's seeded key on a card we sent in that same room), what a
 * forged or replayed event can do (nothing), history, edits and other bots' notices, encrypted
 * rooms, and the access token kept out of errors and logs.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { actionData } from "../../bot/cards.js";
import type { Card, InboundAction, InboundEvent, InboundMessage } from "../../bot/channel.js";
import { createMatrixChannel, type MatrixChannelOptions } from "../../bot/channels/matrix/index.js";
import { type FakeHomeserver, startFakeHomeserver } from "../fakes/matrix-homeserver.js";

const CARD: Card = {
  title: "demo wants to POST api.example.test/v1/things",
  lines: [{ label: "Agent", value: "demo" }],
  agentSays: "to create a thing",
  status: "Waiting for approval: 0 of 1",
  buttons: [
    { label: "Approve", data: actionData("00000000-0000-4000-8000-000000000001", "approve") },
    { label: "Deny", data: actionData("00000000-0000-4000-8000-000000000001", "deny") },
  ],
};

let hs: FakeHomeserver | undefined;
let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  await hs?.close();
  [hs, stop] = [undefined, undefined];
});

async function setUp(opts: Partial<MatrixChannelOptions> = {}, before?: (hs: FakeHomeserver) => void) {
  const server = await startFakeHomeserver();
  hs = server;
  before?.(server);
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
  const ann = server.mxid("ann");
  const mallory = server.mxid("mallory");
  return {
    hs: server,
    channel,
    logs,
    events,
    ann,
    mallory,
    actions: () => events.filter((e): e is InboundAction => e.kind === "action"),
    messages: () => events.filter((e): e is InboundMessage => e.kind === "message"),
    /** Waits until the channel has seen everything the server holds (one more sync round). */
    quiet: async () => {
      const marker = server.dmRoom(server.mxid("marker"));
      server.text(marker, server.mxid("marker"), "sync marker");
      await vi.waitFor(() => {
        if (!events.some((e) => e.kind === "message" && e.text === "sync marker")) throw new Error("not yet");
      });
      events.splice(
        events.findIndex((e) => e.kind === "message" && e.text === "sync marker"),
        1,
      );
    },
  };
}

describe("Matrix reactions", () => {
  it("a person's ✅ on the card in that room is an approve tap on that card; ✅️ with U+FE0F too", async () => {
    const w = await setUp();
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    expect(w.hs.botReactionsOn(ref.messageId)).toEqual(["✅", "❌"]);
    const room = w.hs.roomOfEvent(ref.messageId) as string;
    w.hs.react(room, w.ann, ref.messageId, "✅");
    w.hs.react(room, w.ann, ref.messageId, "❌\uFE0F");
    await vi.waitFor(() => expect(w.actions()).toHaveLength(2));
    expect(w.actions().map((a) => [a.from.id, a.data, a.ref, a.chat.chatId])).toEqual([
      [`matrix:${w.ann}`, "approve", ref, w.ann],
      [`matrix:${w.ann}`, "deny", ref, w.ann],
    ]);
  });

  it("our own seeded reactions coming back through /sync, or replayed, are never taps", async () => {
    const w = await setUp();
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    const room = w.hs.roomOfEvent(ref.messageId) as string;
    w.hs.react(room, w.hs.botId, ref.messageId, "✅"); // as if the server delivered ours again
    await w.quiet();
    expect(w.actions()).toEqual([]);
  });

  it("a reaction on a message that carried no card, or with another emoji, is just a reaction", async () => {
    const w = await setUp();
    const text = await w.channel.sendText(w.channel.privateChat(w.ann), "just text");
    const card = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    const room = w.hs.roomOfEvent(card.messageId) as string;
    w.hs.react(room, w.ann, text.messageId, "✅");
    w.hs.react(room, w.ann, card.messageId, "👍");
    w.hs.react(room, w.ann, "$not-an-event", "✅");
    await w.quiet();
    expect(w.actions()).toEqual([]);
  });

  it("a reaction in another room naming Ann's card (a relation may name any event id) is no tap", async () => {
    const w = await setUp();
    const card = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    const malloryDm = w.hs.dmRoom(w.mallory);
    w.hs.react(malloryDm, w.mallory, card.messageId, "✅");
    // A group room the bot shares with Mallory: the same.
    const group = w.hs.createRoom({ members: [w.mallory] });
    w.hs.react(group, w.mallory, card.messageId, "✅");
    await w.quiet();
    expect(w.actions()).toEqual([]);
    expect(w.logs.filter((l) => l.event === "matrix.reaction_not_on_card")).toHaveLength(2);
  });

  it("after a restart a reaction counts only if the bot's records say that event in THAT chat was a card", async () => {
    const w = await setUp();
    const card = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    await w.channel.stop();
    const records = [card];
    const again = createMatrixChannel({
      homeserverUrl: w.hs.baseUrl,
      accessToken: w.hs.token,
      userId: w.hs.botId,
      isCard: (r) => records.some((c) => c.chatId === r.chatId && c.messageId === r.messageId),
    });
    const events: InboundEvent[] = [];
    await again.start(async (e) => void events.push(e));
    stop = () => again.stop();
    w.hs.react(w.hs.dmRoom(w.mallory), w.mallory, card.messageId, "✅");
    w.hs.react(w.hs.roomOfEvent(card.messageId) as string, w.ann, card.messageId, "✅");
    await vi.waitFor(() => expect(events.filter((e) => e.kind === "action")).toHaveLength(1));
    expect(events[0]).toMatchObject({ kind: "action", from: { id: `matrix:${w.ann}` }, ref: card });
  });

  it("a decided card is edited with m.replace and its seeded reactions are taken back", async () => {
    const w = await setUp();
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    await w.channel.updateCard(ref, { ...CARD, status: "Approved by Ann", buttons: [] });
    expect(w.hs.botReactionsOn(ref.messageId)).toEqual([]);
    const edit = w.hs
      .eventsIn(w.hs.roomOfEvent(ref.messageId) as string)
      .find(
        (e) => (e.content["m.relates_to"] as { rel_type?: string } | undefined)?.rel_type === "m.replace",
      );
    expect(edit?.content["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: ref.messageId });
    const shown = w.hs.shown(ref.messageId) as { body: string };
    expect(shown.body).toContain("Approved by Ann");
    expect(shown.body).not.toContain("Decide by reacting");
  });
});

describe("Matrix senders and history", () => {
  it("the sender is whoever the homeserver says sent it, whatever the content claims", async () => {
    const w = await setUp();
    const dm = w.hs.dmRoom(w.mallory);
    w.hs.text(dm, w.mallory, "/secret set X y", { sender: w.ann, "m.relates_to": { rel_type: "x" } });
    await vi.waitFor(() => expect(w.messages()).toHaveLength(1));
    expect(w.messages()[0]).toMatchObject({ from: { id: `matrix:${w.mallory}` }, isPrivate: true });
  });

  it("history from the first sync, edits and other bots' notices are not commands", async () => {
    const w = await setUp({}, (server) => {
      server.text(
        server.dmRoom(server.mxid("ann")),
        server.mxid("ann"),
        "/agent stop demo (sent while down)",
      );
    });
    const dm = w.hs.dmRoom(w.ann);
    const first = w.hs.text(dm, w.ann, "hello");
    w.hs.inject(dm, w.ann, "m.room.message", {
      msgtype: "m.text",
      body: "* /secret set X y",
      "m.new_content": { msgtype: "m.text", body: "/secret set X y" },
      "m.relates_to": { rel_type: "m.replace", event_id: first },
    });
    w.hs.inject(dm, w.ann, "m.room.message", { msgtype: "m.notice", body: "/agent list" });
    await w.quiet();
    expect(w.messages().map((m) => m.text)).toEqual(["hello"]);
  });

  it("in a DM into which a third person was invited, messages are no longer private; cards go to a new DM", async () => {
    const w = await setUp();
    const dm = w.hs.dmRoom(w.ann);
    w.hs.inject(dm, w.ann, "m.room.member", { membership: "invite" }, w.mallory);
    w.hs.text(dm, w.ann, "/secret set X y");
    await vi.waitFor(() => expect(w.messages()).toHaveLength(1));
    expect(w.messages()[0]).toMatchObject({ isPrivate: false, chat: { chatId: dm } });
    const ref = await w.channel.sendCard(w.channel.privateChat(w.ann), CARD);
    expect(w.hs.roomOfEvent(ref.messageId)).not.toBe(dm);
  });
});
