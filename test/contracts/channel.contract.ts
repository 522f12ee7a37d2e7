/**
 * The `Channel` contract, run against every implementation (the fake, web chat, Telegram, …) so the
 * fake that the bot's tests trust behaves like the real platforms where it matters.
 */
import { describe, expect, it } from "vitest";
import { buildCard } from "../../bot/cards.js";
import type { Address, Card, Channel, InboundEvent, SentRef } from "../../bot/channel.js";
import type { ApprovalView } from "../../gateway/index.js";

/** What a contract run needs from one implementation and the (fake) platform behind it. */
export interface ChannelHarness {
  readonly channel: Channel;
  /** Largest text the platform accepts in one message; longer texts must be split. */
  readonly maxTextLength: number;
  /**
   * Makes the platform deliver a private text message from `userId` (no platform prefix); with
   * `noPrivateChats`, a message from `userId` in `chatFor(userId)`.
   */
  injectPrivateText(userId: string, text: string): Promise<void> | void;
  /** Texts the platform received in the chat `chatId`, oldest first. */
  textsIn(chatId: string): Promise<string[]> | string[];
  /** How many buttons the platform currently shows on a sent message (0 after they were removed). */
  buttonsOn(ref: SentRef): Promise<number> | number;
  /**
   * A card message as a person reads it: all its text (escapes undone, link targets included) and
   * its button labels. Platforms without buttons (WhatsApp) set `noButtons` and name the verbs in text.
   */
  shownOn(ref: SentRef): Promise<CardShown> | CardShown;
  readonly noButtons?: boolean;
  /**
   * No private chats (GitHub, Linear): `sendText` to `privateChat()` must refuse (so the bot knows
   * a card did not arrive there). Every case that would use a private chat uses `chatFor(userId)`
   * instead, a thread the harness names, where messages arrive with `isPrivate: false`.
   */
  readonly noPrivateChats?: boolean;
  /**
   * The platform's own form of a user id the suite names ("4242"), where ids have a fixed shape
   * (Teams: an Entra object id; Google Chat: `users/<digits>`). Default: the id itself.
   */
  userIdOf?(id: string): string;
  /** With `noPrivateChats`: the chat the suite sends to and injects into for `userId`. */
  chatFor?(userId: string): Address;
  /**
   * No edits (WhatsApp Cloud; Messenger, Instagram, X, Email): `updateCard` without buttons posts
   * the decision as a follow-up message in the card's chat (`textsIn` shows it, with the new
   * status); the old buttons may stay on the card.
   */
  readonly noEdits?: boolean;
  /**
   * Button titles of at most this many characters (Messenger, Instagram: 20), too short for a grant
   * label: the card's text says what the grant covers, and a grant button of that length is there.
   */
  readonly buttonTitleMax?: number;
  /**
   * Private chats are created on the first send (Teams, Google Chat): `privateChat()` names the
   * person, and a sent message's ref names the conversation the platform opened (what taps report).
   * `textsIn` then takes either.
   */
  readonly privateChatsOpened?: boolean;
  close?(): Promise<void>;
}

const U = (h: ChannelHarness, id: string): string => h.userIdOf?.(id) ?? id;

/** Where a case that wants a private chat with `userId` sends: the harness's thread without DMs. */
function chatOf(h: ChannelHarness, userId: string): Address {
  if (!h.noPrivateChats) return h.channel.privateChat(userId);
  if (!h.chatFor) throw new Error("a harness with noPrivateChats must name chatFor()");
  return h.chatFor(userId);
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

/** What a person reads on a card message. */
export interface CardShown {
  readonly text: string;
  readonly buttons: readonly string[];
}

const NOTICE = (n: number): string => `… ${n} more characters not shown — see the full request`;

/**
 * A card as shown where nothing limits its length (the web chat's page script and the fake render
 * this): every field whole, each with the notice for what the bot already left out.
 */
export function cardReadInFull(card: Card): string {
  const notice = (n: number | undefined) => (n ? NOTICE(n) : "");
  return [
    card.title,
    ...card.lines.map((l) => `${l.label}: ${l.value}${notice(l.hidden)}`),
    card.body
      ? `${card.body.text}${card.body.text && card.body.hidden ? "\n" : ""}${notice(card.body.hidden)}`
      : "",
    card.agentSays === null
      ? ""
      : `Agent says (its own words): ${card.agentSays}${notice(card.agentSaysHidden)}`,
    card.status,
    card.link ?? "",
  ].join("\n");
}

const HONEST_ID = "0b6f3c1e-9d2a-4c3b-8e7f-1a2b3c4d5e6f";
const WEB = "http://127.0.0.1:7420";
const LONG_PATH = `/${"u".repeat(6000)}`;
const BODY_X = 8000;
const BODY_HIDDEN = 1234;
const REASON_Z = 5000;
const NOW = Date.parse("2030-01-01T00:00:00Z");

/** A held request with everything an honest card must say, built by the real card builder. */
function honestView(v: Partial<ApprovalView> = {}): ApprovalView {
  return {
    id: HONEST_ID,
    agent: "demo",
    method: "POST",
    url: `https://api.example.test${LONG_PATH}`,
    host: "api.example.test",
    path: LONG_PATH,
    policy: "github",
    rule: "merge",
    bodyPreview: "x".repeat(BODY_X),
    bodyHidden: BODY_HIDDEN,
    bodyBytes: BODY_X + BODY_HIDDEN,
    contentType: "application/json",
    contentEncoding: null,
    secrets: [{ name: "GITHUB_TOKEN", where: "Authorization header" }],
    overrides: [{ via: "X-HTTP-Method-Override header", method: "DELETE" }],
    grantCovers: "PUT /repos/*/*/pulls/*/merge",
    reason: "z".repeat(REASON_Z),
    createdAt: new Date(NOW).toISOString(),
    expiresAt: new Date(NOW + 5 * 60_000).toISOString(),
    needed: 1,
    approvals: [],
    approvers: ["role:owner"],
    grantMs: 15 * 60_000,
    state: "pending",
    ...v,
  };
}
const honestCard = (v: Partial<ApprovalView> = {}): Card =>
  buildCard(honestView(v), { now: () => NOW, webBase: WEB });

/** The run of `ch` right before a not-shown notice, and the count the notice gives. */
function cutOf(text: string, ch: string): { shown: number; notShown: number } {
  const m = new RegExp(`(${ch}+)\\s*… (\\d+) more characters not shown`).exec(text);
  if (!m) throw new Error(`no not-shown notice after a run of "${ch}" in:\n${text.slice(0, 3000)}`);
  return { shown: m[1]!.length, notShown: Number(m[2]) };
}

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
        await h.injectPrivateText(U(h, "4242"), "hello bot");
        const e = await until("a message", () => events.find((x) => x.kind === "message"));
        if (e.kind !== "message") throw new Error("unreachable");
        expect(e.from.id).toBe(`${h.channel.platform}:${U(h, "4242")}`);
        expect(e.chat.platform).toBe(h.channel.platform);
        expect(e.ref.platform).toBe(h.channel.platform);
        // Without private chats the message arrives in the thread it was posted in, not privately.
        expect(e.isPrivate).toBe(!h.noPrivateChats);
        if (h.noPrivateChats) expect(e.chat.chatId).toBe(chatOf(h, U(h, "4242")).chatId);
        expect(e.text).toBe("hello bot");
      });
    });

    it("privateChat() names a chat on this platform that sendText reaches", async () => {
      await withHarness(async (h) => {
        if (h.noPrivateChats) {
          // Refused, never posted somewhere public: the bot must learn the card did not arrive.
          await expect(h.channel.sendText(h.channel.privateChat(U(h, "4242")), "hi there")).rejects.toThrow();
        }
        const to = chatOf(h, U(h, "4242"));
        expect(to.platform).toBe(h.channel.platform);
        expect(typeof to.chatId).toBe("string");
        expect(to.chatId.length).toBeGreaterThan(0);
        const ref = await h.channel.sendText(to, "hi there");
        expect(ref.platform).toBe(h.channel.platform);
        if (!h.privateChatsOpened) expect(ref.chatId).toBe(to.chatId);
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
        const to = chatOf(h, U(h, "4243"));
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
        if (!h.privateChatsOpened) expect(ref.chatId).toBe(to.chatId);
      });
    });

    it("sendCard() shows buttons; updateCard() with none removes them", async () => {
      await withHarness(async (h) => {
        const to = chatOf(h, U(h, "4244"));
        const ref = await h.channel.sendCard(to, CARD);
        expect(await h.buttonsOn(ref)).toBe(2);
        await h.channel.updateCard(ref, { ...CARD, status: "Approved by someone", buttons: [] });
        if (h.noEdits) {
          // The card cannot change: the decision follows it as a message; its buttons may stay.
          await until("the decision as a follow-up", async () =>
            (await h.textsIn(to.chatId)).some((t) => t.includes("Approved by someone")) ? true : undefined,
          );
          return;
        }
        expect(
          await until("buttons gone", async () => ((await h.buttonsOn(ref)) === 0 ? 0 : undefined)),
        ).toBe(0);
      });
    });

    it("honest card: hidden body, long URL and long reason say how many characters are not shown", async () => {
      await withHarness(async (h) => {
        const ref = await h.channel.sendCard(chatOf(h, U(h, "4246")), honestCard());
        const { text } = await h.shownOn(ref);
        // Every character is either shown or counted, the gateway's hidden ones included.
        const body = cutOf(text, "x");
        expect(body.shown + body.notShown).toBe(BODY_X + BODY_HIDDEN);
        const url = cutOf(text, "u");
        expect(url.shown).toBeGreaterThan(0);
        expect(url.shown + url.notShown).toBe(LONG_PATH.length - 1);
        const reason = cutOf(text, "z");
        expect(reason.shown + reason.notShown).toBe(REASON_Z);
        expect(text).toContain("see the full request");
      });
    });

    it("honest card: secrets carried, content type, the override, the full-request link", async () => {
      await withHarness(async (h) => {
        const ref = await h.channel.sendCard(chatOf(h, U(h, "4247")), honestCard());
        const { text } = await h.shownOn(ref);
        expect(text).toContain("GITHUB_TOKEN → Authorization header");
        expect(text).toContain("application/json");
        expect(text).toContain("X-HTTP-Method-Override: DELETE — checked as POST and DELETE");
        expect(text).toContain(`${WEB}/approvals/${HONEST_ID}`);
      });
    });

    it("honest card: a pretty-printed JSON body keeps its lines", async () => {
      await withHarness(async (h) => {
        const json = JSON.stringify({ title: "Fix", head: "a", base: "main" }, null, 2);
        const card = honestCard({
          bodyPreview: json,
          bodyHidden: 0,
          path: "/x",
          url: "https://api.example.test/x",
        });
        const { text } = await h.shownOn(await h.channel.sendCard(chatOf(h, U(h, "4248")), card));
        expect(text).toContain(json);
        expect(text).not.toMatch(/x… \d+ more/);
      });
    });

    it("honest card: the grant button says what it covers; too long for a button, the card says it", async () => {
      await withHarness(async (h) => {
        const label = "Approve all PUT /repos/*/*/pulls/*/merge for 15 min";
        const ref = await h.channel.sendCard(chatOf(h, U(h, "4249")), honestCard());
        const shown = await h.shownOn(ref);
        const max = h.buttonTitleMax;
        const shortGrant = (buttons: readonly string[]) =>
          buttons.some((b) => b.startsWith("Approve ") && b !== "Approve" && b.length <= (max ?? 0));
        if (h.noButtons) expect(shown.text).toContain(`"grant" for ${label}`);
        else if (max) {
          expect(shown.text).toContain(
            "Time-limited approval: approves all PUT /repos/*/*/pulls/*/merge for 15 min",
          );
          expect(shortGrant(shown.buttons)).toBe(true);
        } else expect(shown.buttons).toContain(label);

        const covers = `PUT /repos/${"o".repeat(60)}/*/pulls/*/merge`;
        const long = await h.shownOn(
          await h.channel.sendCard(chatOf(h, U(h, "4250")), honestCard({ grantCovers: covers })),
        );
        // Wherever the label does not fit a button, the short label stands in and the card says it all.
        expect(long.text).toContain(`Time-limited approval: approves all ${covers} for 15 min`);
        if (max) expect(shortGrant(long.buttons)).toBe(true);
        else if (!h.noButtons) {
          const grant = long.buttons.find((b) => b.startsWith("Approve ") && b !== "Approve");
          expect([`Approve all ${covers} for 15 min`, "Approve similar for 15 min"]).toContain(grant);
        }
      });
    });

    it("stop() stops delivering events", async () => {
      const h = await make();
      const events: InboundEvent[] = [];
      await h.channel.start(async (e) => void events.push(e));
      await h.channel.stop();
      await h.injectPrivateText(U(h, "4245"), "anyone?");
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toHaveLength(0);
      await h.close?.();
    });
  });
}
