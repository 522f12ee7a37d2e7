/**
 * The WhatsApp channel driven through baileys' own event machinery (test/fakes/whatsapp-socket.ts):
 * the shared channel and approval-tap contracts, then WhatsApp specifics (LIDs, mentions, gestures,
 * edits, rate limits, reconnects, pairing). Never opens a connection: makeWASocket is not called.
 */
import { mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { areJidsSameUser, DisconnectReason, jidNormalizedUser, type WAMessageKey } from "baileys";
import { describe, expect, it, vi } from "vitest";
import { actionData } from "../../bot/cards.js";
import type { Card, Channel, InboundAction, InboundEvent, InboundMessage } from "../../bot/channel.js";
import {
  createWhatsAppChannel,
  qrForTerminal,
  qrSvg,
  type WhatsAppChannelOptions,
} from "../../bot/channels/whatsapp/index.js";
import { personJid, sameUser } from "../../bot/channels/whatsapp/jid.js";
import { CLOSE_CODES } from "../../bot/channels/whatsapp/socket.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { boomLike, createFakeWhatsApp } from "../fakes/whatsapp-socket.js";

const GROUP = "120363025246125486@g.us";
const ANN = "447700900123";
const BOB = "447700900456";
const noSleep = async (): Promise<void> => undefined;

/** Open prompts a card shows now: the quoted verbs of its last line, if that line invites a reply. */
function promptVerbs(text: string | undefined): number {
  const last = text?.split("\n").pop() ?? "";
  return last.startsWith("Reply") ? (last.match(/"(approve|deny|grant)"/g) ?? []).length : 0;
}

const CARD: Card = {
  title: "demo wants to POST api.example.test/v1/things",
  lines: [{ label: "Agent", value: "demo" }],
  agentSays: "to create a thing",
  status: "Waiting for approval: 0 of 1",
  buttons: [
    { label: "Approve", data: actionData("id-1", "approve") },
    { label: "Deny", data: actionData("id-1", "deny") },
  ],
};

async function setUp(opts: Partial<WhatsAppChannelOptions> = {}) {
  const wa = createFakeWhatsApp({ me: "15550000000" });
  const events: InboundEvent[] = [];
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const channel = createWhatsAppChannel({
    connect: wa.connect,
    sleep: noSleep,
    random: () => 1,
    log: (event, fields) => void logs.push({ event, fields }),
    ...opts,
  });
  await channel.start(async (e) => void events.push(e));
  const messages = () => events.filter((e): e is InboundMessage => e.kind === "message");
  const actions = () => events.filter((e): e is InboundAction => e.kind === "action");
  return { wa, channel, events, logs, messages, actions };
}

channelContract("whatsapp", async () => {
  const wa = createFakeWhatsApp();
  return {
    channel: createWhatsAppChannel({ connect: wa.connect, sleep: noSleep }),
    maxTextLength: 4096,
    injectPrivateText: (userId, text) => void wa.privateText(userId, text),
    textsIn: (chatId) => wa.textsIn(chatId),
    buttonsOn: (ref) => promptVerbs(wa.current(ref.messageId)),
    noButtons: true,
    // As a person reads it: monospace markers and formatting lookalikes read as what they stand for.
    shownOn: (ref) => {
      const text = wa.current(ref.messageId) ?? "";
      if (text.length > 4096) throw new Error("WhatsApp card over 4096 characters");
      return {
        text: text
          .replace(/```/g, "")
          .replace(/\u200b/g, "")
          .replace(/∗/g, "*"),
        buttons: [],
      };
    },
  };
});

approvalTapsContract("whatsapp", async () => {
  const wa = createFakeWhatsApp();
  const real = createWhatsAppChannel({ connect: wa.connect, sleep: noSleep });
  // The contract names its group privateChat("group-1"); WhatsApp user ids are digits only, so the
  // harness maps that one name to a group jid.
  const channel: Channel = {
    ...real,
    privateChat: (u) => (u === "group-1" ? { platform: "whatsapp", chatId: GROUP } : real.privateChat(u)),
  };
  return {
    channel,
    otherGesturesAreChat: true,
    gesturesCarryNoCount: true,
    async tap(userId, ref, data) {
      const verb = data.split(":").pop();
      const dm = `${userId}@s.whatsapp.net`;
      const before = wa.textsIn(dm).length;
      const key = wa.keyOf(ref.messageId);
      if (!key) throw new Error(`no message ${ref.messageId}`);
      // Groups: a reaction; private chats: a quoted keyword reply.
      if (ref.chatId.endsWith("@g.us") && verb !== "grant")
        wa.react(userId, ref.chatId, key, verb === "deny" ? "👎" : "👍🏽");
      else wa.reply(userId, ref.chatId, key, verb === "approve" ? "Yes" : String(verb));
      return vi.waitFor(() => {
        const texts = wa.textsIn(dm);
        if (texts.length <= before) throw new Error("no answer yet");
        return texts.slice(before);
      });
    },
    buttonsOn: (ref) => promptVerbs(wa.current(ref.messageId)),
    shownText: (ref) => wa.current(ref.messageId) ?? "",
  };
});

describe("WhatsApp inbound", () => {
  it("names people by phone number, also behind a LID; a hidden number becomes whatsapp:lid:…", async () => {
    const { wa, channel, messages } = await setUp();
    wa.privateText(ANN, "hello", { name: "Ann \u202Eevil" });
    wa.privateText(BOB, "via lid", { lid: "111222333" });
    wa.groupText(GROUP, ANN, "in group", { lid: "444555666" });
    wa.groupText(GROUP, BOB, "hidden", { lid: "777888999", hideNumber: true });
    expect(messages().map((m) => [m.from.id, m.chat.chatId, m.isPrivate, m.text])).toEqual([
      [`whatsapp:${ANN}`, `${ANN}@s.whatsapp.net`, true, "hello"],
      [`whatsapp:${BOB}`, `${BOB}@s.whatsapp.net`, true, "via lid"],
      [`whatsapp:${ANN}`, GROUP, false, "in group"],
      ["whatsapp:lid:777888999", GROUP, false, "hidden"],
    ]);
    expect(messages()[0]?.from.name).toBe("Ann evil");
    expect(channel.privateChat("lid:777888999").chatId).toBe("777888999@lid");
    expect(channel.privateChat(ANN)).toEqual({ platform: "whatsapp", chatId: `${ANN}@s.whatsapp.net` });
    for (const bad of ["+447700900123", "group-1", "4477@s.whatsapp.net", ""])
      expect(() => channel.privateChat(bad)).toThrow(/digits only/);
    await channel.stop();
  });

  it("in groups: a mention of us (stripped) or a reply to us is a mention; other chat is not", async () => {
    const { wa, channel, messages } = await setUp();
    wa.groupText(GROUP, ANN, "@15550000000 /agent list", { mentions: [wa.me] });
    wa.groupText(GROUP, ANN, "@987650000000001 status", { mentions: [wa.meLid] });
    wa.groupText(GROUP, ANN, "@447700900456 dinner?", { mentions: [`${BOB}@s.whatsapp.net`] });
    wa.groupText(GROUP, ANN, "/help");
    const ours = await channel.sendText({ platform: "whatsapp", chatId: GROUP }, "Hi all");
    wa.reply(BOB, GROUP, wa.keyOf(ours.messageId) as WAMessageKey, "thanks!");
    expect(messages().map((m) => [m.text, m.mentioned])).toEqual([
      ["/agent list", true],
      ["status", true],
      ["@447700900456 dinner?", false],
      ["/help", false],
      ["thanks!", true],
    ]);
    await channel.stop();
  });

  it("refuses to send to a number that is not on WhatsApp (asked once, cached), so a card there is not 'delivered'", async () => {
    const wa = createFakeWhatsApp({ me: "15550000000", unregistered: ["447700900999"] });
    const channel = createWhatsAppChannel({ connect: wa.connect, sleep: async () => {} });
    await channel.start(async () => {});
    await expect(channel.sendCard(channel.privateChat("447700900999"), CARD)).rejects.toThrow(
      "WhatsApp: +447700900999 is not on WhatsApp",
    );
    await expect(channel.sendText(channel.privateChat("447700900999"), "hi")).rejects.toThrow(
      /not on WhatsApp/,
    );
    expect(wa.sent).toHaveLength(0);
    await channel.sendText(channel.privateChat(ANN), "hello");
    await channel.sendText(channel.privateChat(ANN), "again");
    await channel.sendText({ platform: "whatsapp", chatId: GROUP }, "groups are not looked up");
    expect(wa.lookups).toEqual(["447700900999@s.whatsapp.net", `${ANN}@s.whatsapp.net`]);
    await channel.stop();
  });

  it("reports who else a message mentions, as WhatsApp resolved them (LIDs stay lid:), never us", async () => {
    const { wa, channel, messages } = await setUp();
    wa.groupText(GROUP, ANN, "@15550000000 parents: @447700900456 @123456789012345", {
      mentions: [wa.me, `${BOB}@s.whatsapp.net`, "123456789012345@lid", "status@broadcast"],
    });
    wa.groupText(GROUP, ANN, "no mentions here");
    expect(messages().map((m) => m.mentions)).toEqual([[BOB, "lid:123456789012345"], undefined]);
    await channel.stop();
  });

  it("ignores our own echoes, history, offline queues, status, newsletters, system and protocol messages", async () => {
    const { wa, channel, events } = await setUp();
    await channel.sendText(channel.privateChat(ANN), "echoed back as fromMe");
    wa.privateText(ANN, "from history", { type: "append" });
    wa.privateText(ANN, "old", { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    wa.raw("status@broadcast", ANN, { conversation: "my status" });
    wa.raw("120363000000000001@newsletter", ANN, { conversation: "news" });
    const target = { remoteJid: `${ANN}@s.whatsapp.net`, fromMe: false, id: "ABC" };
    wa.raw(`${ANN}@s.whatsapp.net`, ANN, { protocolMessage: { key: target, type: 14 } });
    wa.raw(`${ANN}@s.whatsapp.net`, ANN, { imageMessage: { caption: "no text" } });
    wa.raw(`${ANN}@s.whatsapp.net`, ANN, { ephemeralMessage: { message: { conversation: "disappearing" } } });
    await new Promise((r) => setTimeout(r, 20));
    expect(events.map((e) => (e.kind === "message" ? e.text : e.kind))).toEqual(["disappearing"]);
    await channel.stop();
  });
});

describe("WhatsApp approvals by reply and reaction", () => {
  it("turns keyword replies and 👍/👎 reactions on a card into bare verbs for that card", async () => {
    const { wa, channel, actions, messages } = await setUp();
    const card = await channel.sendCard({ platform: "whatsapp", chatId: GROUP }, CARD);
    const key = wa.keyOf(card.messageId) as WAMessageKey;
    wa.reply(ANN, GROUP, key, "  Approve. ");
    wa.reply(BOB, GROUP, key, "NO");
    wa.react(ANN, GROUP, key, "👍🏿");
    wa.react(BOB, GROUP, key, "👎", { lid: "444555666" });
    wa.react(BOB, GROUP, key, ""); // a reaction removed
    wa.react(BOB, GROUP, key, "❤️");
    wa.reply(BOB, GROUP, key, "approve please");
    expect(actions().map((a) => [a.from.id, a.data, a.ref, a.chat.chatId])).toEqual([
      [`whatsapp:${ANN}`, "approve", card, GROUP],
      [`whatsapp:${BOB}`, "deny", card, GROUP],
      [`whatsapp:${ANN}`, "approve", card, GROUP],
      [`whatsapp:${BOB}`, "deny", card, GROUP],
    ]);
    expect(messages().map((m) => m.text)).toEqual(["approve please"]);
    await channel.stop();
  });

  it("a 'yes' to our message that is no card is conversation; after a restart the bot's records say what was a card", async () => {
    const { wa, channel, actions, messages } = await setUp();
    const question = await channel.sendText({ platform: "whatsapp", chatId: GROUP }, "Shall I add eggs?");
    const card = await channel.sendCard({ platform: "whatsapp", chatId: GROUP }, CARD);
    wa.reply(ANN, GROUP, wa.keyOf(question.messageId) as WAMessageKey, "yes");
    wa.react(ANN, GROUP, wa.keyOf(question.messageId) as WAMessageKey, "👍");
    expect(actions()).toEqual([]);
    expect(messages().map((m) => [m.text, m.mentioned])).toEqual([["yes", true]]);
    await channel.stop();

    // A new channel (a restart) has no memory of the card: only the bot's records can vouch for it.
    const seen: InboundEvent[] = [];
    const restarted = createWhatsAppChannel({
      connect: wa.connect,
      sleep: noSleep,
      isCard: (ref) => ref.chatId === GROUP && ref.messageId === card.messageId,
    });
    await restarted.start(async (e) => void seen.push(e));
    wa.react(BOB, GROUP, wa.keyOf(card.messageId) as WAMessageKey, "👍");
    wa.reply(BOB, GROUP, wa.keyOf(question.messageId) as WAMessageKey, "no");
    expect(seen.map((e) => [e.kind, e.kind === "action" ? e.data : e.text])).toEqual([
      ["action", "approve"],
      ["message", "no"],
    ]);
    await restarted.stop();
  });

  it("answers one person at most three times per card, however often they react", async () => {
    const { wa, channel, actions } = await setUp();
    const card = await channel.sendCard({ platform: "whatsapp", chatId: GROUP }, CARD);
    const key = wa.keyOf(card.messageId) as WAMessageKey;
    for (let i = 0; i < 6; i++) wa.react(ANN, GROUP, key, i % 2 ? "👎" : "👍");
    for (const a of actions()) await a.reply("You are not an approver for this request");
    expect(actions()).toHaveLength(6);
    expect(wa.textsIn(`${ANN}@s.whatsapp.net`)).toHaveLength(3);
    await channel.stop();
  });

  it("answers the tapper privately, never in the group", async () => {
    const { wa, channel, actions } = await setUp();
    const card = await channel.sendCard({ platform: "whatsapp", chatId: GROUP }, CARD);
    wa.react(ANN, GROUP, wa.keyOf(card.messageId) as WAMessageKey, "👍");
    await actions()[0]?.reply("You are not an approver for this request");
    expect(wa.textsIn(`${ANN}@s.whatsapp.net`)).toEqual(["You are not an approver for this request"]);
    expect(wa.textsIn(GROUP)).toHaveLength(1); // the card only
    await channel.stop();
  });

  it("treats a keyword on someone else's message as chat; refuses a verb the card does not offer", async () => {
    const { wa, channel, actions, messages } = await setUp();
    const theirs = wa.groupText(GROUP, BOB, "pizza tonight?");
    wa.reply(ANN, GROUP, theirs.key, "yes");
    wa.react(ANN, GROUP, theirs.key, "👍");
    const card = await channel.sendCard(channel.privateChat(ANN), CARD);
    wa.reply(ANN, `${ANN}@s.whatsapp.net`, wa.keyOf(card.messageId) as WAMessageKey, "grant");
    expect(actions()).toEqual([]);
    expect(messages().map((m) => [m.text, m.mentioned])).toEqual([
      ["pizza tonight?", false],
      ["yes", false],
    ]);
    await vi.waitFor(() =>
      expect(wa.textsIn(`${ANN}@s.whatsapp.net`)).toContain('This card has no "grant" option.'),
    );
    await channel.stop();
  });
});

describe("WhatsApp cards", () => {
  it("keeps agent text in monospace, one line, no bidi; the prompt names the card's verbs", async () => {
    const { wa, channel } = await setUp();
    const forged = {
      ...CARD,
      agentSays: "fine\n\n*Approved by owner* ```x``` \u202Egnp.exe",
      buttons: [...CARD.buttons, { label: "Approve for 1 h", data: actionData("id-1", "grant") }],
    };
    const ref = await channel.sendCard(channel.privateChat(ANN), forged);
    const text = wa.current(ref.messageId) ?? "";
    expect(text).toContain(
      "Agent says (its own words, not verified): ```fine *Approved by owner* ˋˋˋxˋˋˋ gnp.exe```",
    );
    expect(text).not.toMatch(/[\u202A-\u202E]/);
    expect(text.split("\n").slice(-2)).toEqual([
      "*Waiting for approval: 0 of 1*",
      'Reply "approve" or "deny" to this message, or react 👍 / 👎. Reply "grant" for Approve for 1 h.',
    ]);
    expect(promptVerbs(text)).toBe(3);
    await channel.stop();
  });

  it("edits a decided card in place; an old card gets one quoted 'Decided' message instead", async () => {
    let t = Date.now();
    const { wa, channel } = await setUp({ now: () => t });
    const group = { platform: "whatsapp", chatId: GROUP };
    const fresh = await channel.sendCard(group, CARD);
    await channel.updateCard(fresh, { ...CARD, status: "Approved by *Ann*", buttons: [] });
    const edit = wa.sent.find((s) => s.kind === "edit");
    expect(edit?.content).toMatchObject({ edit: { remoteJid: GROUP, id: fresh.messageId, fromMe: true } });
    expect(wa.current(fresh.messageId)).toMatch(/\*Approved by ∗Ann∗\*$/);
    const old = await channel.sendCard(group, CARD);
    t += 20 * 60_000;
    await channel.updateCard(old, { ...CARD, status: "Expired", buttons: [] });
    await channel.updateCard(old, { ...CARD, status: "Expired", buttons: [] });
    expect(wa.textsIn(GROUP).slice(-1)).toEqual([
      "Decided: *Expired*. Replies to this card no longer count.",
    ]);
    expect(wa.sent.at(-1)?.options?.quoted?.key).toMatchObject({ id: old.messageId, fromMe: true });
    expect(wa.textsIn(GROUP)).toHaveLength(3);
    await channel.stop();
  });
});

describe("WhatsApp sending", () => {
  it("typing() sends the composing presence to the chat", async () => {
    const { wa, channel } = await setUp();
    await channel.typing?.({ platform: "whatsapp", chatId: GROUP });
    expect(wa.presences).toEqual([{ type: "composing", jid: GROUP }]);
    await channel.stop();
  });

  it("spaces sends to one chat and retries once when rate-limited", async () => {
    const sleeps: number[] = [];
    const { wa, channel } = await setUp({ sleep: async (ms) => void sleeps.push(ms) });
    wa.failSends(boomLike(429, "rate-overlimit"));
    await channel.sendText(channel.privateChat(ANN), "one");
    await channel.sendText(channel.privateChat(ANN), "two");
    expect(wa.textsIn(`${ANN}@s.whatsapp.net`)).toEqual(["one", "two"]);
    expect(sleeps).toEqual([3000, 250, 250]);
    wa.failSends(boomLike(429, "rate-overlimit"), boomLike(429, "rate-overlimit"));
    await expect(channel.sendText(channel.privateChat(ANN), "three")).rejects.toThrow(/rate-limiting/);
    await expect(
      channel.sendText({ platform: "whatsapp", chatId: "status@broadcast" }, "x"),
    ).rejects.toThrow();
    await channel.stop();
    await expect(channel.sendText(channel.privateChat(ANN), "after stop")).rejects.toThrow(/not connected/);
  });

  it("deletes our messages, and others' in a group only as admin; never others' in a private chat", async () => {
    const { wa, channel, messages } = await setUp();
    const ours = await channel.sendText(channel.privateChat(ANN), "oops");
    await channel.deleteMessage?.(ours);
    expect(wa.isDeleted(ours.messageId)).toBe(true);
    wa.groupText(GROUP, ANN, "/secret set token abc");
    wa.privateText(ANN, "/secret set token abc");
    const [inGroup, inPrivate] = messages().map((m) => m.ref);
    await expect(channel.deleteMessage?.(inGroup!)).rejects.toThrow(/group admin/);
    await expect(channel.deleteMessage?.(inPrivate!)).rejects.toThrow(/only they can/);
    await expect(channel.deleteMessage?.({ ...ours, messageId: "x/../y" })).rejects.toThrow(/not a message/);
    await channel.stop();
  });
});

describe("WhatsApp connection", () => {
  it("reconnects with jittered exponential backoff to 60 s and re-attaches handlers", async () => {
    const sleeps: number[] = [];
    const { wa, channel, messages } = await setUp({ sleep: async (ms) => void sleeps.push(ms) });
    const first = wa.socket();
    wa.failConnects(8);
    wa.disconnect(DisconnectReason.connectionLost);
    await vi.waitFor(() => expect(wa.sockets).toHaveLength(2));
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    first?.ev.emit("messages.upsert", { messages: [], type: "notify" });
    wa.privateText(ANN, "after reconnect");
    expect(messages().map((m) => m.text)).toEqual(["after reconnect"]);
    wa.open();
    wa.disconnect(DisconnectReason.restartRequired);
    await vi.waitFor(() => expect(wa.sockets).toHaveLength(3));
    wa.disconnect(DisconnectReason.badSession);
    await vi.waitFor(() => expect(wa.sockets).toHaveLength(4));
    expect(sleeps.slice(9)).toEqual([0, 1000]);
    await channel.stop();
  });

  it("jitters down to half; logged out → a new socket for a new QR; replaced → gives up", async () => {
    const sleeps: number[] = [];
    const { wa, channel, logs } = await setUp({ sleep: async (ms) => void sleeps.push(ms), random: () => 0 });
    wa.disconnect(DisconnectReason.connectionClosed);
    await vi.waitFor(() => expect(wa.sockets).toHaveLength(2));
    wa.disconnect(DisconnectReason.loggedOut);
    await vi.waitFor(() => expect(wa.sockets).toHaveLength(3));
    wa.disconnect(DisconnectReason.connectionReplaced);
    await new Promise((r) => setTimeout(r, 20));
    expect(wa.sockets).toHaveLength(3);
    expect(sleeps).toEqual([500, 1000]);
    expect(logs.map((l) => l.event)).toContain("whatsapp.gave_up");
    await channel.stop();
  });

  it("stop() cancels a pending reconnect and ends the socket", async () => {
    const sleep = (_ms: number, signal?: AbortSignal) =>
      new Promise<void>((_, reject) => signal?.addEventListener("abort", () => reject(new Error("aborted"))));
    const { wa, channel } = await setUp({ sleep });
    wa.disconnect(DisconnectReason.connectionLost);
    await channel.stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(wa.sockets).toHaveLength(1);
  });

  it("agrees with baileys on close codes and jids", () => {
    expect(CLOSE_CODES).toMatchObject({
      loggedOut: DisconnectReason.loggedOut,
      forbidden: DisconnectReason.forbidden,
      connectionClosed: DisconnectReason.connectionClosed,
      connectionReplaced: DisconnectReason.connectionReplaced,
      restartRequired: DisconnectReason.restartRequired,
    });
    for (const j of ["447700900123:12@s.whatsapp.net", "123456789:3@lid", "447700900123@s.whatsapp.net"])
      expect(personJid(j)).toBe(jidNormalizedUser(j));
    expect(sameUser("1555:7@s.whatsapp.net", "1555@s.whatsapp.net")).toBe(
      areJidsSameUser("1555:7@s.whatsapp.net", "1555@s.whatsapp.net"),
    );
    expect(personJid("status@broadcast")).toBeUndefined();
  });
});

describe("WhatsApp pairing", () => {
  it("renders the QR for a terminal and as SVG", async () => {
    expect(await qrForTerminal("2@abc,def,ghi")).toMatch(/[█▀▄]/);
    expect(await qrSvg("2@abc,def,ghi")).toMatch(/^<svg/);
    await expect(qrSvg("")).rejects.toThrow(/QR/);
  });

  it("connectWhatsApp: 0700 auth dir, QR and creds forwarded, cleared on logout, quiet logs", async () => {
    const { connectWhatsApp, quietLogger } = await import("../../bot/channels/whatsapp/connect.js");
    const authDir = join(await mkdtemp(join(tmpdir(), "warden-wa-")), "auth");
    const wa = createFakeWhatsApp();
    await wa.connect();
    const fake = wa.socket()!;
    const qrs: string[] = [];
    const statuses: string[] = [];
    let config: Parameters<NonNullable<Parameters<typeof connectWhatsApp>[0]["makeSocket"]>>[0] | undefined;
    const sock = await connectWhatsApp({
      authDir,
      onQr: (qr) => void qrs.push(qr),
      onStatus: (s) => void statuses.push(s),
      makeSocket: (c) => {
        config = c;
        return fake;
      },
    });
    expect((await stat(authDir)).mode & 0o777).toBe(0o700);
    expect(config).toMatchObject({ markOnlineOnConnect: false, syncFullHistory: false });
    expect(config?.shouldSyncHistoryMessage?.({})).toBe(false);
    wa.qr("2@pairing-ref");
    expect(qrs).toEqual(["2@pairing-ref"]);
    const sent = await sock.sendMessage(`${ANN}@s.whatsapp.net`, { text: "hi" });
    expect(await config?.getMessage?.(sent!.key)).toMatchObject({ conversation: "hi" });
    wa.emit("creds.update", {});
    await vi.waitFor(async () => expect(await readdir(authDir)).toContain("creds.json"));
    wa.disconnect(DisconnectReason.loggedOut);
    await expect(stat(authDir)).rejects.toThrow();
    expect(statuses).toEqual(["pairing", "logged_out"]);
    const logged: unknown[] = [];
    quietLogger((e, f) => void logged.push([e, f])).warn({ msg: { text: "a secret" } }, "failed to decrypt");
    expect(JSON.stringify(logged)).not.toContain("secret");
    expect(JSON.stringify(logged)).toContain("failed to decrypt");
  });
});
