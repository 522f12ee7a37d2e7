/**
 * The 24-hour window rule by itself, over the Channel seam with a recording channel underneath and a
 * settable clock, state in a real bot store: the window closes 24 h (less a margin) after the
 * person's last message; a tap on a card shown after its template counts for the template message,
 * only from the person it was shown to; a card decided while it waited sends its outcome instead;
 * stored rows that do not parse read as absent.
 */
import { describe, expect, it } from "vitest";
import { openBotStore } from "../../bot-store.js";
import type { Card, Channel, InboundEvent, SentRef } from "../../channel.js";
import { waWindowStoreOf } from "../../persisted-state.js";
import { WINDOW_MS, WhatsAppWindowClosed, withWhatsAppWindow } from "./wacloud-window.js";

const CARD: Card = {
  title: "demo wants POST https://api.example.com",
  lines: [],
  agentSays: null,
  status: "Waiting",
  buttons: [{ label: "Approve", data: "a:1:approve" }],
};

function world() {
  const clock = { t: Date.now() };
  const rows = openBotStore(":memory:", { now: () => clock.t });
  const sent: { kind: string; chatId: string; messageId?: string }[] = [];
  let handler: ((e: InboundEvent) => Promise<void>) | undefined;
  let n = 0;
  const inner: Channel = {
    platform: "wacloud",
    start: async (h) => {
      handler = h;
    },
    stop: async () => undefined,
    sendText: async (to) => {
      sent.push({ kind: "text", chatId: to.chatId });
      return { platform: "wacloud", chatId: to.chatId, messageId: `t${++n}` };
    },
    sendCard: async (to) => {
      const ref: SentRef = { platform: "wacloud", chatId: to.chatId, messageId: `c${++n}` };
      sent.push({ kind: "card", chatId: to.chatId, messageId: ref.messageId });
      return ref;
    },
    updateCard: async (ref, card) =>
      void sent.push({ kind: card.buttons.length ? "noop" : "outcome", chatId: ref.chatId }),
    privateChat: (id) => ({ platform: "wacloud", chatId: `wa:${id}` }),
  };
  const got: InboundEvent[] = [];
  const ch = withWhatsAppWindow(inner, {
    store: waWindowStoreOf(rows, () => clock.t),
    template: { name: "warden_approval", language: "en" },
    userOf: (id) => id.replace(/^wa:/, ""),
    sendTemplate: async (chatId) => {
      sent.push({ kind: "template", chatId });
      return `n${++n}`;
    },
    log: () => undefined,
    now: () => clock.t,
  });
  const from = (u: string) => ({ id: `wacloud:${u}`, name: u });
  const write = (u: string) =>
    handler!({
      kind: "message",
      from: from(u),
      chat: { platform: "wacloud", chatId: `wa:${u}` },
      isPrivate: true,
      mentioned: false,
      text: "hi",
      ref: { platform: "wacloud", chatId: `wa:${u}`, messageId: `in${++n}` },
    });
  const tap = (u: string, messageId: string) =>
    handler!({
      kind: "action",
      from: from(u),
      chat: { platform: "wacloud", chatId: `wa:${u}` },
      data: "a:1:approve",
      ref: { platform: "wacloud", chatId: `wa:${u}`, messageId },
      reply: async () => undefined,
    });
  return { clock, rows, sent, ch, got, write, tap };
}

describe("WhatsApp Cloud window", () => {
  it("closes 24 h (less the margin) after the person's last message", async () => {
    const w = world();
    await w.ch.start(async (e) => void w.got.push(e));
    await w.write("1555");
    await w.ch.sendText({ platform: "wacloud", chatId: "wa:1555" }, "inside");
    w.clock.t += WINDOW_MS + 1;
    await expect(w.ch.sendText({ platform: "wacloud", chatId: "wa:1555" }, "outside")).rejects.toBeInstanceOf(
      WhatsAppWindowClosed,
    );
    expect(w.sent.map((s) => s.kind)).toEqual(["text"]);
  });

  it("a tap on the card shown after the template counts for the template message, from that person only", async () => {
    const w = world();
    await w.ch.start(async (e) => void w.got.push(e));
    const ref = await w.ch.sendCard({ platform: "wacloud", chatId: "wa:1555" }, CARD);
    expect(w.sent).toEqual([{ kind: "template", chatId: "wa:1555" }]);
    await w.write("1555");
    const shown = w.sent.find((s) => s.kind === "card")?.messageId ?? "";
    await w.tap("1666", shown);
    await w.tap("1555", shown);
    const taps = w.got.filter((e) => e.kind === "action").map((e) => e.ref.messageId);
    // The stranger's tap keeps the id it named (no card of hers); Ann's counts for the recorded card.
    expect(taps).toEqual([shown, ref.messageId]);
  });

  it("a card decided while it waited sends its outcome when the person writes, not the buttons", async () => {
    const w = world();
    await w.ch.start(async (e) => void w.got.push(e));
    const ref = await w.ch.sendCard({ platform: "wacloud", chatId: "wa:1555" }, CARD);
    await w.ch.updateCard(ref, { ...CARD, status: "Denied by Bob", buttons: [] });
    await w.write("1555");
    expect(w.sent.map((s) => s.kind)).toEqual(["template", "outcome"]);
    // Sent once: a second message finds nothing waiting.
    await w.write("1555");
    expect(w.sent.map((s) => s.kind)).toEqual(["template", "outcome"]);
  });

  it("a stored row that does not parse reads as absent", async () => {
    const w = world();
    await w.rows.statePut("wacloud-withheld", "1555:n1", "{not json", w.clock.t + 60_000);
    await w.rows.statePut("wacloud-window", "1555", "yesterday", w.clock.t + 60_000);
    const store = waWindowStoreOf(w.rows, () => w.clock.t);
    expect(await store.withheld("1555")).toEqual([]);
    expect(await store.lastInbound("1555")).toBeUndefined();
  });
});
