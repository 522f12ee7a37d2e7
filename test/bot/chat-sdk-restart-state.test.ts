/**
 * What the webhook platforms remember across a restart, kept in the bot's SQLite file
 * (bot/persisted-state.ts): a signed delivery accepted before the restart is still a replay (409,
 * never handled) after it; an approval code drawn on a GitHub card before the restart still finds
 * its card, so an approver's `/approve <code>` comment afterwards approves (and a stranger's is still
 * refused). Real HMAC verifier, real `@chat-adapter/github` against the fake GitHub, real engine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BotStore, openBotStore } from "../../bot/bot-store.js";
import type { Channel, InboundEvent } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { readMarkdownCard } from "../../bot/channels/markdown-card.js";
import { codeStoreOf, replayStoreOf } from "../../bot/persisted-state.js";
import { githubVerifier } from "../../bot/webhooks/hmac-verifiers.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { startFakeGitHub } from "../fakes/github-api.js";
import { hubSignature, rawPost } from "../fakes/webhook-client.js";
import { createBotWorld } from "./bot-world.js";

const SECRET = "gh-secret-restart-tests";
const THREAD = "github:acme/app:issue:7";
const ANN = { id: 701, login: "ann" };
const EVE = { id: 666, login: "eve" };

let dir: string;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("webhook state across a restart", () => {
  it("a delivery accepted before the restart is 409 after it, and reaches no handler", async () => {
    dir = mkdtempSync(join(tmpdir(), "replay-restart-"));
    const file = join(dir, "warden.db");
    const handled: string[] = [];
    const listen = async (state: BotStore) => {
      const l = await startWebhookListener({
        host: "127.0.0.1",
        port: 0,
        log: () => undefined,
        replayStore: replayStoreOf(state),
      });
      l.route({
        verifier: githubVerifier(SECRET),
        handle: async (d) => {
          handled.push(d.body.toString());
          return { status: 200, body: "{}" };
        },
      });
      return l;
    };
    const body = JSON.stringify({
      action: "created",
      comment: { id: 4242, body: "/approve k3f9x2", created_at: new Date().toISOString(), user: ANN },
      issue: { number: 7 },
      repository: { full_name: "acme/app" },
      sender: ANN,
    });
    const post = (l: WebhookListener) =>
      rawPost(
        l.url,
        "/webhooks/github",
        { "x-github-event": "issue_comment", "x-hub-signature-256": hubSignature(SECRET, body) },
        body,
      );
    let state = openBotStore(file);
    let l = await listen(state);
    expect((await post(l)).status).toBe(200);
    expect((await post(l)).status).toBe(409);
    await l.close();
    state.close();
    // Restarted: a new process, memory empty, the same file.
    state = openBotStore(file);
    l = await listen(state);
    closers.push(
      () => l.close(),
      () => state.close(),
    );
    expect((await post(l)).status).toBe(409);
    expect(handled).toHaveLength(1);
  });

  it("an approval code drawn before the restart still approves after it; a stranger's is still refused", async () => {
    dir = mkdtempSync(join(tmpdir(), "codes-restart-"));
    const file = join(dir, "warden.db");
    const gh = await startFakeGitHub(SECRET);
    closers.push(() => gh.close());
    /** The channel layer as a process would build it: new listener, new Chat, memory empty. */
    let inner: { channel: Channel; listener: WebhookListener; state: BotStore };
    const build = async () => {
      const state = openBotStore(file);
      const listener = await startWebhookListener({
        host: "127.0.0.1",
        port: 0,
        log: () => undefined,
        replayStore: replayStoreOf(state),
      });
      const [channel] = createChatSdkChannels({
        platforms: await chatSdkPlatforms({
          github: { webhookSecret: SECRET, token: "ghp_test", apiUrl: gh.url },
        }),
        listener,
        log: () => undefined,
        codeStore: (platform) => codeStoreOf(state, platform),
      }) as [Channel];
      return { channel, listener, state };
    };
    inner = await build();
    let handler: ((e: InboundEvent) => Promise<void>) | undefined;
    // The bot keeps one Channel; its insides restart underneath it.
    const channel: Channel = {
      platform: "github",
      start: async (h) => {
        handler = h;
        await inner.channel.start(h);
      },
      stop: () => inner.channel.stop(),
      sendText: (to, text, o) => inner.channel.sendText(to, text, o),
      sendCard: (to, card) => inner.channel.sendCard(to, card),
      updateCard: (ref, card) => inner.channel.updateCard(ref, card),
      privateChat: (id) => inner.channel.privateChat(id),
    };
    const w = createBotWorld({ channels: [channel] });
    closers.push(async () => {
      await w.bot.stop();
      await inner.listener.close();
      inner.state.close();
    });
    await w.bot.start();
    await w.person("1", "owner");
    await w.store.createPerson("github:701", "Ann", "approver");
    await w.store.bind("demo", { platform: "github", chatId: THREAD });
    const { view, outcome } = await w.hold();
    const card = await until("the card", () =>
      gh.commentsIn(THREAD).find((c) => c.body.includes("/approve ")),
    );
    const code = /`\/approve ([a-z0-9]{6})`/.exec(card.body)?.[1] ?? "";
    expect(code).toMatch(/^[a-z0-9]{6}$/);

    await inner.channel.stop();
    await inner.listener.close();
    inner.state.close();
    inner = await build();
    await inner.channel.start(handler!);

    const n = gh.commentsIn(THREAD).length;
    await gh.comment(inner.listener.url, { user: EVE, text: `/approve ${code}` });
    const refusal = await until("Eve's refusal", () => gh.commentsIn(THREAD).slice(n + 1)[0]);
    expect(readMarkdownCard(refusal.body)).toBe("You are not an approver for this request");
    expect((await w.approvals.get(view.id))?.approvals).toEqual([]);
    expect((await gh.comment(inner.listener.url, { user: ANN, text: `/approve ${code}` })).status).toBe(200);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect((await w.approvals.get(view.id))?.approvals).toEqual(["github:701"]);
  });
});
