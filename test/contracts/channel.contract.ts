/**
 * The `Channel` contract, run against every implementation (the fake, web chat, Telegram, …) so the
 * fake that the bot's tests trust behaves like the real platforms where it matters.
 */
import { describe, expect, it } from "vitest";
import type { Card, Channel, InboundEvent, SentRef } from "../../bot/channel.js";

/** What a contract run needs from one implementation and the (fake) platform behind it. */
export interface ChannelHarness {
  readonly channel: Channel;
  /** Largest text the platform accepts in one message; longer texts must be split. */
  readonly maxTextLength: number;
  /** Makes the platform deliver a private text message from `userId` (no platform prefix). */
  injectPrivateText(userId: string, text: string): Promise<void> | void;
  /** Texts the platform received in the chat `chatId`, oldest first. */
  textsIn(chatId: string): Promise<string[]> | string[];
  /** How many buttons the platform currently shows on a sent message (0 after they were removed). */
  buttonsOn(ref: SentRef): Promise<number> | number;
  close?(): Promise<void>;
}

const CARD: Card = {
  title: "demo wants to POST api.example.test/v1/things",
  lines: [{ label: "Agent", value: "demo" }],
  agentSays: "to create a thing",
  status: "Waiting for approval: 0 of 1",
  buttons: [
    { label: "Approve", data: "a:00000000-0000-4000-8000-000000000000:approve", style: "primary" },
    { label: "Deny", data: "a:00000000-0000-4000-8000-000000000000:deny", style: "danger" },
  ],
};

async function until<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 5000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Registers the contract suite for one implementation; `make` builds a fresh harness per test. */
export function channelContract(name: string, make: () => Promise<ChannelHarness>): void {
  describe(`Channel contract (${name})`, () => {
    async function withHarness(
      f: (h: ChannelHarness, events: InboundEvent[]) => Promise<void>,
    ): Promise<void> {
      const h = await make();
      const events: InboundEvent[] = [];
      await h.channel.start(async (e) => void events.push(e));
      try {
        await f(h, events);
      } finally {
        await h.channel.stop();
        await h.close?.();
      }
    }

    it("start() delivers a private message with a platform-prefixed sender", async () => {
      await withHarness(async (h, events) => {
        await h.injectPrivateText("4242", "hello bot");
        const e = await until("a message", () => events.find((x) => x.kind === "message"));
        if (e.kind !== "message") throw new Error("unreachable");
        expect(e.from.id).toBe(`${h.channel.platform}:4242`);
        expect(e.chat.platform).toBe(h.channel.platform);
        expect(e.ref.platform).toBe(h.channel.platform);
        expect(e.isPrivate).toBe(true);
        expect(e.text).toBe("hello bot");
      });
    });

    it("privateChat() names a chat on this platform that sendText reaches", async () => {
      await withHarness(async (h) => {
        const to = h.channel.privateChat("4242");
        expect(to.platform).toBe(h.channel.platform);
        expect(typeof to.chatId).toBe("string");
        expect(to.chatId.length).toBeGreaterThan(0);
        const ref = await h.channel.sendText(to, "hi there");
        expect(ref).toMatchObject({ platform: h.channel.platform, chatId: to.chatId });
        expect(typeof ref.messageId).toBe("string");
        expect(
          await until("the text", async () =>
            (await h.textsIn(to.chatId)).includes("hi there") ? true : undefined,
          ),
        ).toBe(true);
      });
    });

    it("sendText() splits long text to the platform limit and returns the last part", async () => {
      await withHarness(async (h) => {
        const to = h.channel.privateChat("4243");
        const words = Array.from(
          { length: Math.ceil((h.maxTextLength * 2.5) / 8) },
          (_, i) => `w${String(i).padStart(6, "0")}`,
        );
        const long = words.join(" ");
        const ref = await h.channel.sendText(to, long);
        const parts = await until("all parts", async () => {
          const got = await h.textsIn(to.chatId);
          return got.length >= 3 ? got : undefined;
        });
        for (const p of parts) expect(p.length).toBeLessThanOrEqual(h.maxTextLength);
        expect(parts.join("").replace(/\s+/g, "")).toBe(long.replace(/\s+/g, ""));
        expect(ref.chatId).toBe(to.chatId);
      });
    });

    it("sendCard() shows buttons; updateCard() with none removes them", async () => {
      await withHarness(async (h) => {
        const to = h.channel.privateChat("4244");
        const ref = await h.channel.sendCard(to, CARD);
        expect(await h.buttonsOn(ref)).toBe(2);
        await h.channel.updateCard(ref, { ...CARD, status: "Approved by someone", buttons: [] });
        expect(
          await until("buttons gone", async () => ((await h.buttonsOn(ref)) === 0 ? 0 : undefined)),
        ).toBe(0);
      });
    });

    it("stop() stops delivering events", async () => {
      const h = await make();
      const events: InboundEvent[] = [];
      await h.channel.start(async (e) => void events.push(e));
      await h.channel.stop();
      await h.injectPrivateText("4245", "anyone?");
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toHaveLength(0);
      await h.close?.();
    });
  });
}
