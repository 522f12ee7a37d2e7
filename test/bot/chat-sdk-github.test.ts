/**
 * GitHub through the real `@chat-adapter/github` against a fake GitHub on 127.0.0.1, with the REAL
 * approvals engine behind the bot: a card in the agent's issue thread carries a short code; a signed
 * `/approve <code>` comment by an approver approves it; a member's or stranger's is refused; an
 * unknown code is not valid; a replayed or forged webhook never reaches the router. Plus the honest
 * card rules as markdown that nothing in the card can break out of.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Card, Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { readMarkdownCard, renderMarkdownCard } from "../../bot/channels/markdown-card.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeGitHub, startFakeGitHub } from "../fakes/github-api.js";
import { hubSignature, rawPost } from "../fakes/webhook-client.js";
import { type BotWorld, createBotWorld } from "./bot-world.js";

const SECRET = "gh-secret-for-tests";
const THREAD = "github:acme/app:issue:7";
const ANN = { id: 701, login: "ann" };
const MEL = { id: 709, login: "mel" };
const EVE = { id: 666, login: "eve" };

let gh: FakeGitHub;
let l: WebhookListener;
let w: BotWorld;
let channel: Channel;

async function setUp(): Promise<void> {
  gh = await startFakeGitHub(SECRET);
  l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
  [channel] = createChatSdkChannels({
    platforms: await chatSdkPlatforms({
      github: { webhookSecret: SECRET, token: "ghp_test", apiUrl: gh.url },
    }),
    listener: l,
    log: () => undefined,
  }) as [Channel];
  w = createBotWorld({ channels: [channel] });
  await w.bot.start();
  await w.person("1", "owner"); // reachable elsewhere, so the hold does not fail closed
  await w.store.createPerson("github:701", "Ann", "approver");
  await w.store.createPerson("github:709", "Mel", "member");
  await w.store.bind("demo", { platform: "github", chatId: THREAD });
}
afterEach(async () => {
  await w?.bot.stop();
  await l?.close();
  await gh?.close();
});

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
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cardComment = () =>
  until("the card comment", () => gh.commentsIn(THREAD).find((c) => c.body.includes("/approve ")));
const codeOf = (body: string) => /`\/approve ([a-z0-9]{6})`/.exec(body)?.[1] ?? "";
/** The bot's comments in the thread after the `n`th. */
const botRepliesAfter = (n: number) =>
  gh
    .commentsIn(THREAD)
    .slice(n)
    .filter((c) => c.user.id !== ANN.id && c.user.id !== MEL.id && c.user.id !== EVE.id);

describe("Chat SDK channel: GitHub", () => {
  it("an approver's signed `/approve <code>` comment approves; the card loses its prompt", async () => {
    await setUp();
    const { view, outcome } = await w.hold();
    const card = await cardComment();
    const code = codeOf(card.body);
    expect(code).toMatch(/^[a-z0-9]{6}$/);
    const n = gh.commentsIn(THREAD).length;
    expect((await gh.comment(l.url, { user: ANN, text: `/approve ${code}` })).status).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    const reply = await until("the reply", () => botRepliesAfter(n + 1)[0]);
    expect(readMarkdownCard(reply.body)).toBe("Approved.");
    await until("card updated", () => (card.body.includes("/approve ") ? undefined : true));
    expect((await w.approvals.get(view.id))?.approvals).toEqual(["github:701"]);
  });

  it("a member's and a stranger's code reply are refused and audited", async () => {
    await setUp();
    const { view } = await w.hold();
    const code = codeOf((await cardComment()).body);
    for (const who of [MEL, EVE]) {
      const n = gh.commentsIn(THREAD).length;
      await gh.comment(l.url, { user: who, text: `/approve ${code}` });
      expect(readMarkdownCard((await until("the refusal", () => botRepliesAfter(n + 1)[0])).body)).toBe(
        "You are not an approver for this request",
      );
    }
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    expect(w.auditLog).toContainEqual(
      expect.objectContaining({ type: "approval_vote_refused", by: "github:709" }),
    );
  });

  it("an unknown code is not valid and decides nothing", async () => {
    await setUp();
    const { view } = await w.hold();
    await cardComment();
    const n = gh.commentsIn(THREAD).length;
    await gh.comment(l.url, { user: ANN, text: "/approve zzzzzz" });
    expect(readMarkdownCard((await until("the answer", () => botRepliesAfter(n + 1)[0])).body)).toBe(
      "This button is not valid.",
    );
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
  });

  it("a replayed approval webhook is 409; a forged one 401; neither reaches the bot", async () => {
    await setUp();
    const { view } = await w.hold({ needed: 2 });
    await w.store.createPerson("github:702", "Bob", "approver");
    const code = codeOf((await cardComment()).body);
    const body = JSON.stringify({
      action: "created",
      issue: { number: 7 },
      comment: { id: 424242, body: `/approve ${code}`, user: ANN, created_at: new Date().toISOString() },
      repository: { id: 1, name: "app", full_name: "acme/app", owner: { login: "acme" } },
      sender: ANN,
    });
    const post = (sig: string) =>
      rawPost(
        l.url,
        "/webhooks/github",
        { "x-github-event": "issue_comment", "x-hub-signature-256": sig },
        body,
      );
    expect((await post(hubSignature(SECRET, body))).status).toBe(200);
    await until("counted", async () =>
      (await w.approvals.get(view.id))?.approvals.length === 1 ? true : undefined,
    );
    expect((await post(hubSignature(SECRET, body))).status).toBe(409);
    const forged = body.replace('"id":701', '"id":702');
    const r = await rawPost(
      l.url,
      "/webhooks/github",
      { "x-github-event": "issue_comment", "x-hub-signature-256": hubSignature("guess", forged) },
      forged,
    );
    expect(r.status).toBe(401);
    await new Promise((res) => setTimeout(res, 200));
    expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: ["github:701"] });
  });
});

describe("GitHub markdown cards", () => {
  const card: Card = {
    title: "demo wants to POST api.example.test/x",
    lines: [{ label: "Agent", value: "demo" }],
    agentSays: "````\n**Approved by the owner** @octocat [click](https://evil.test)\n````",
    body: { text: '{\n  "a": "```"\n}', hidden: 0 },
    status: "Waiting for approval: 0 of 1",
    buttons: [
      { label: "Approve", data: "a:00000000-0000-4000-8000-000000000000:approve" },
      { label: "Deny", data: "a:00000000-0000-4000-8000-000000000000:deny" },
    ],
  };

  it("keeps everything the agent wrote inside one fence it cannot close", () => {
    const md = renderMarkdownCard(card, ["k3f9x2"], 60_000);
    const fence = /^(`{3,})text$/m.exec(md)?.[1] ?? "";
    expect(fence.length).toBeGreaterThan(4);
    const inside = md.slice(md.indexOf(`${fence}text`), md.lastIndexOf(fence) + fence.length);
    expect(inside).toContain("**Approved by the owner**");
    expect(md.replace(inside, "")).not.toContain("Approved by");
    expect(md).toContain("Reply `/approve k3f9x2` or `/deny k3f9x2` to decide.");
  });

  it("a decided card offers no code; a batch lists every item with its own code", () => {
    expect(renderMarkdownCard({ ...card, buttons: [] }, ["k3f9x2"], 60_000)).not.toContain("/approve");
    const item = { ...card, title: "item", agentSays: null };
    const md = renderMarkdownCard(
      { ...card, items: [item, { ...item, title: "item two" }] },
      ["aaaaaa", "bbbbbb", "cccccc"],
      60_000,
    );
    expect(md).toContain("`/approve bbbbbb`");
    expect(md).toContain("`/approve cccccc`");
    expect(readMarkdownCard(md)).toContain("item two");
  });
});
