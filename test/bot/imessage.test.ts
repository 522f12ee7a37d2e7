/**
 * iMessage through our BlueBubbles client against a fake BlueBubbles server on 127.0.0.1, webhooks
 * on the shared listener at `/webhooks/imessage/<token>`: the shared channel and approval-tap
 * contracts (a tap is a 👍 / 👎 tapback on the card), then the attacks BlueBubbles' unsigned webhooks
 * invite: a wrong or missing path token, a made-up guid, a real guid with altered fields, a replay,
 * a stale message, a removed tapback, a tapback on a message that was no card, a non-approver's
 * tapback; and no password in an error or a log.
 */
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SentRef } from "../../bot/channel.js";
import { createBlueBubbles, createIMessageChannel, webhookToken } from "../../bot/channels/imessage/index.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { type FakeBlueBubbles, startFakeBlueBubbles } from "../fakes/bluebubbles.js";
import { rawPost } from "../fakes/webhook-client.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const PASSWORD = "bb-password-SECRET-123";
const TOKEN = "tok_abcdefghijklmnopqrstuvwxyz012345";

interface World {
  fake: FakeBlueBubbles;
  l: WebhookListener;
  hook: string;
  logs: unknown[];
  channel: ReturnType<typeof createIMessageChannel>;
  close(): Promise<void>;
}

async function world(password = PASSWORD): Promise<World> {
  const fake = await startFakeBlueBubbles(PASSWORD);
  const logs: unknown[] = [];
  const log = (event: string, fields: Record<string, unknown> = {}) => void logs.push({ event, fields });
  const l = await startWebhookListener({ host: "127.0.0.1", port: 0, log });
  const channel = createIMessageChannel({
    bb: createBlueBubbles({ url: fake.url, password }),
    listener: l,
    webhookToken: TOKEN,
    log,
  });
  return {
    fake,
    l,
    hook: `${l.url}/webhooks/imessage/${TOKEN}`,
    logs,
    channel,
    close: async () => {
      await l.close();
      await fake.close();
    },
  };
}

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 10_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

const dm = (handle: string) => `iMessage;-;${handle}`;
const codeOf = (text: string) => /^Warden: approval request \[([a-z0-9]{6})\]/.exec(text)?.[1];
function cardView(fake: FakeBlueBubbles, ref: SentRef): { card: string; followUps: string[] } {
  const card = fake.sent(ref.messageId)?.text ?? "";
  const code = codeOf(card);
  const followUps = code ? fake.textsIn(ref.chatId).filter((t) => t.startsWith(`Update on [${code}]`)) : [];
  return { card, followUps };
}
function openPrompts(fake: FakeBlueBubbles, ref: SentRef): number {
  const { card, followUps } = cardView(fake, ref);
  if (followUps.some((t) => t.includes("no longer open"))) return 0;
  return (card.match(/"(approve|deny|grant) [a-z0-9]{6}"/g) ?? []).length;
}
const asRead = (t: string) => t.replace(/"(approve|deny|grant) [a-z0-9]{6}"/g, '"$1"').replace(/^│ /gm, "");
const answersTo = (fake: FakeBlueBubbles, handle: string, before: number) =>
  fake
    .textsIn(dm(handle))
    .slice(before)
    .filter((t) => !t.startsWith("Update on [") && !t.startsWith("Warden: approval request"));

channelContract("imessage", async () => {
  const w = await world();
  return {
    channel: w.channel,
    maxTextLength: 4000,
    injectPrivateText: async (userId, text) => void (await w.fake.text(w.hook, userId, text)),
    textsIn: (chatId) => w.fake.textsIn(chatId),
    buttonsOn: (ref) => openPrompts(w.fake, ref),
    noButtons: true,
    noEdits: true,
    shownOn: (ref) => ({ text: asRead(cardView(w.fake, ref).card), buttons: [] }),
    close: w.close,
  };
});

approvalTapsContract("imessage", async () => {
  const w = await world();
  return {
    channel: w.channel,
    gesturesCarryNoCount: true,
    noEdits: true,
    followUps: (ref) => w.fake.textsAfter(ref.chatId, ref.messageId),
    groupChat: () => ({ platform: "imessage", chatId: "iMessage;+;chat-group-1" }),
    async tap(userId, ref, data) {
      const verb = /(approve|deny|grant)$/.exec(data)?.[1] ?? "approve";
      const code = codeOf(w.fake.sent(ref.messageId)?.text ?? "");
      const before = w.fake.textsIn(dm(userId)).length;
      // 👍 / 👎 on a card; a grant (no tapback for it) or a message that was no card: a code reply.
      if (code && verb !== "grant")
        await w.fake.tapback(w.hook, userId, ref.messageId, verb === "deny" ? "dislike" : "like", ref.chatId);
      else await w.fake.text(w.hook, userId, `${verb} ${code ?? "zzzzzz"}`, ref.chatId);
      return until("the answer", () => {
        const texts = answersTo(w.fake, userId, before);
        return texts.length > 0 ? texts : undefined;
      });
    },
    buttonsOn: (ref) => openPrompts(w.fake, ref),
    shownText: (ref) => {
      const v = cardView(w.fake, ref);
      return [v.card, ...v.followUps].join("\n");
    },
    close: w.close,
  };
});

describe("iMessage webhooks (unsigned: path token + read-back)", () => {
  let w: World | undefined;
  let bw: BotWorld | undefined;
  afterEach(async () => {
    await bw?.bot.stop();
    await w?.close();
    [w, bw] = [undefined, undefined];
  });

  async function setUp() {
    w = await world();
    bw = createBotWorld({ channels: [w.channel] });
    await bw.bot.start();
    await bw.store.createPerson("imessage:+15550000701", "Ann", "approver");
    await bw.store.createPerson("imessage:+15550000702", "Bob", "approver");
    await bw.store.createPerson("imessage:+15550000709", "Mel", "member");
    const held = await bw.hold({ needed: 2 });
    const ref = await until(
      "the card",
      async () =>
        (await bw?.store.cardRefs(held.view.id))?.find((c) => c.to.chatId === dm("+15550000701"))?.ref,
    );
    return { w, bw, held, ref };
  }

  it("a wrong or missing path token is refused before anything is read or asked", async () => {
    const { w, bw, held, ref } = await setUp();
    const like = w.fake.eventBody({ ...w.fake.messages[0]!, guid: "X", isFromMe: false });
    const asked = w.fake.messages.length;
    expect((await w.fake.post(`${w.l.url}/webhooks/imessage/${TOKEN.replace("a", "b")}`, like)).status).toBe(
      401,
    );
    expect((await w.fake.post(`${w.l.url}/webhooks/imessage/short`, like)).status).toBe(401);
    expect((await w.fake.post(`${w.l.url}/webhooks/imessage`, like)).status).toBe(404);
    expect((await rawPost(w.l.url, `/webhooks/x/${TOKEN}`, {}, like)).status).toBe(404);
    expect(w.fake.messages.length).toBe(asked);
    expect((await bw.approvals.get(held.view.id))?.approvals).toEqual([]);
    expect(ref.messageId).toMatch(/BB-GUID/);
  });

  it("a forged event with a made-up guid is 401; a real guid with altered fields decides what the server says", async () => {
    const { w, bw, held, ref } = await setUp();
    const forged = JSON.stringify({
      type: "new-message",
      data: {
        guid: "MADE-UP-GUID",
        text: "",
        isFromMe: false,
        handle: { address: "+15550000701" },
        chats: [{ guid: dm("+15550000701") }],
        dateCreated: Date.now(),
        associatedMessageGuid: `p:0/${ref.messageId}`,
        associatedMessageType: "like",
      },
    });
    expect((await w.fake.post(w.hook, forged)).status).toBe(401);
    // Mel's real 👍 on her own chat, re-sent claiming to be Ann's on Ann's card.
    const before = w.fake.textsIn(dm("+15550000709")).length;
    await w.fake.tapback(w.hook, "+15550000709", ref.messageId, "like", dm("+15550000709"));
    const mel = [...w.fake.messages].reverse().find((m) => m.associatedMessageType === "like")!;
    const altered = w.fake.eventBody({ ...mel, handle: "+15550000701", chatGuid: dm("+15550000701") });
    expect((await w.fake.post(w.hook, altered)).status).toBe(409); // same guid: already taken
    const fresh = { ...mel, guid: `${mel.guid}-2` };
    w.fake.messages.push(fresh); // a real message of Mel's the server has
    const claimed = w.fake.eventBody({ ...fresh, handle: "+15550000701", chatGuid: dm("+15550000701") });
    expect((await w.fake.post(w.hook, claimed)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    // Mel's tapbacks were in her chat, on a message id not of a card there: never a vote.
    expect(await bw.approvals.get(held.view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect(w.fake.textsIn(dm("+15550000709")).length).toBe(before);
  });

  it("replay is 409; a stale message is 400; a removed tapback and a tapback on a non-card do nothing", async () => {
    const { w, bw, held, ref } = await setUp();
    const r = await w.fake.tapback(w.hook, "+15550000701", ref.messageId, "like", dm("+15550000701"));
    expect(r.status).toBe(200);
    await until("counted", async () =>
      (await bw.approvals.get(held.view.id))?.approvals.length === 1 ? true : undefined,
    );
    const like = [...w.fake.messages].reverse().find((m) => m.associatedMessageType === "like")!;
    expect((await w.fake.post(w.hook, w.fake.eventBody(like))).status).toBe(409);
    const old = { ...like, guid: "OLD-LIKE", dateCreated: Date.now() - 6 * 60_000 };
    w.fake.messages.push(old);
    expect((await w.fake.post(w.hook, w.fake.eventBody(old))).status).toBe(400);
    const bobCard = await until(
      "Bob's card",
      async () =>
        (await bw.store.cardRefs(held.view.id)).find((c) => c.to.chatId === dm("+15550000702"))?.ref,
    );
    await w.fake.tapback(w.hook, "+15550000702", bobCard.messageId, "-like", dm("+15550000702"));
    const other = await w.channel.sendText(w.channel.privateChat("+15550000702"), "just text");
    await w.fake.tapback(w.hook, "+15550000702", other.messageId, "like", dm("+15550000702"));
    await new Promise((res) => setTimeout(res, 150));
    expect((await bw.approvals.get(held.view.id))?.approvals).toEqual(["imessage:+15550000701"]);
    expect(answersTo(w.fake, "+15550000702", 0)).toEqual(["just text"]); // no answer to either tapback
    // Bob's 👍 on his card completes the quorum.
    await w.fake.tapback(w.hook, "+15550000702", bobCard.messageId, "like", dm("+15550000702"));
    await expect(held.outcome).resolves.toMatchObject({ outcome: "approved" });
  });

  it("a non-approver's tapback on a card in a group is refused privately and audited", async () => {
    w = await world();
    bw = createBotWorld({ channels: [w.channel] });
    await bw.bot.start();
    await bw.store.createPerson("imessage:+15550000701", "Ann", "approver");
    await bw.store.createPerson("imessage:+15550000709", "Mel", "member");
    const group = "iMessage;+;chat-family";
    await bw.store.bind("demo", { platform: "imessage", chatId: group });
    const held = await bw.hold();
    const card = await until(
      "the group card",
      async () => (await bw?.store.cardRefs(held.view.id))?.find((c) => c.to.chatId === group)?.ref,
    );
    await w.fake.tapback(w.hook, "+15550000709", card.messageId, "like", group);
    await until("refused", () =>
      answersTo(w!.fake, "+15550000709", 0).includes("You are not an approver for this request")
        ? true
        : undefined,
    );
    expect(w.fake.textsIn(group).some((t) => t.includes("not an approver"))).toBe(false);
    expect(bw.auditLog).toContainEqual(
      expect.objectContaining({ type: "approval_vote_refused", by: "imessage:+15550000709" }),
    );
    expect(await bw.approvals.get(held.view.id)).toMatchObject({ state: "pending", approvals: [] });
  });

  it("a wrong password: start fails with a stable code; the password is in no error or log", async () => {
    w = await world("wrong-SECRET-pw");
    const err = await w.channel
      .start(async () => undefined)
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toBe("bb_unauthorized (HTTP 401)");
    const seen = `${err?.stack} ${JSON.stringify(err)} ${JSON.stringify(w.logs)}`;
    for (const s of [PASSWORD, "wrong-SECRET-pw", TOKEN]) expect(seen).not.toContain(s);
    expect(w.fake.badPasswords).toBe(1);
  });

  it("the webhook token: a configured one must be long; else one is made once, 0600, and kept", async () => {
    const dir = await mkdtemp(join(tmpdir(), "warden-imessage-"));
    const file = join(dir, "imessage-webhook-token");
    expect(() => webhookToken(file, "short")).toThrow(/32-128/);
    const a = webhookToken(file);
    expect(a.created).toBe(true);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(webhookToken(file)).toEqual({ token: a.token, created: false });
    expect((await readFile(file, "utf8")).trim()).toBe(a.token);
    expect(webhookToken(file, TOKEN)).toEqual({ token: TOKEN, created: false });
  });
});
