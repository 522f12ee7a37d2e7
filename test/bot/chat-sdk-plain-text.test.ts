/**
 * Agent text posted on GitHub and Linear through the real adapters (against the fakes) renders
 * nothing: no @-mention that notifies, no link, image or bold "Approved", whatever the agent wrote,
 * including backtick runs meant to close the fence. Each comment is exactly one fenced block.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { createChatSdkChannels } from "../../bot/channels/chat-sdk/chat-sdk-channel.js";
import { plainMarkdownParts, readMarkdownCard } from "../../bot/channels/markdown-card.js";
import { chatSdkPlatforms } from "../../bot/channels/chat-sdk/platforms.js";
import { startWebhookListener, type WebhookListener } from "../../bot/webhooks/webhook-listener.js";
import { type FakeGitHub, startFakeGitHub } from "../fakes/github-api.js";
import { type FakeLinear, startFakeLinear } from "../fakes/linear-api.js";

const HOSTILE = [
  "```",
  "**Approved by the owner** @octocat @acme/security #12",
  "[click](https://evil.test) ![x](https://evil.test/p.png) https://evil.test <b>hi</b>",
  "`````````",
  "~~~",
].join("\n");

/** True when `md` is one fenced block whose fence nothing inside reaches. */
function oneFence(md: string): boolean {
  const m = /^(`{3,})text\n([\s\S]*)\n\1$/.exec(md);
  if (!m?.[1] || m[2] === undefined) return false;
  const longest = Math.max(0, ...(m[2].match(/`+/g) ?? []).map((r) => r.length));
  return longest < m[1].length;
}

let gh: FakeGitHub | undefined;
let lin: FakeLinear | undefined;
let l: WebhookListener | undefined;
afterEach(async () => {
  await l?.close();
  await gh?.close();
  await lin?.close();
  [gh, lin, l] = [undefined, undefined, undefined];
});

describe("Chat SDK plain text on the markdown platforms", () => {
  it("GitHub: the agent's words arrive as one fence, verbatim, nothing rendered", async () => {
    gh = await startFakeGitHub("s");
    l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
    const [ch] = createChatSdkChannels({
      platforms: await chatSdkPlatforms({ github: { webhookSecret: "s", token: "ghp_t", apiUrl: gh.url } }),
      listener: l,
      log: () => undefined,
    }) as [Channel];
    await ch.start(async () => undefined);
    await ch.sendText({ platform: "github", chatId: "github:acme/app:issue:7" }, HOSTILE);
    const body = gh.commentsIn("github:acme/app:issue:7")[0]?.body ?? "";
    expect(oneFence(body)).toBe(true);
    expect(readMarkdownCard(body)).toBe(HOSTILE);
    await ch.stop();
  });

  it("Linear: the same, through the real Linear SDK", async () => {
    lin = await startFakeLinear("s");
    l = await startWebhookListener({ host: "127.0.0.1", port: 0, log: () => undefined });
    const [ch] = createChatSdkChannels({
      platforms: await chatSdkPlatforms({
        linear: { apiKey: "lin_api_t", webhookSecret: "s", apiUrl: lin.url },
      }),
      listener: l,
      log: () => undefined,
    }) as [Channel];
    await ch.start(async () => undefined);
    await ch.sendText({ platform: "linear", chatId: "linear:iss-1" }, HOSTILE);
    const body = lin.comments.find((c) => c.issueId === "iss-1")?.body ?? "";
    expect(oneFence(body)).toBe(true);
    expect(readMarkdownCard(body)).toBe(HOSTILE);
    await ch.stop();
  });

  it("long text and huge backtick runs are split so every part is one fence within the limit", () => {
    const text = `${"a ".repeat(3000)}\n${"`".repeat(5000)}\n@octocat`;
    const parts = plainMarkdownParts(text, 4000);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(4000);
      expect(oneFence(p)).toBe(true);
    }
  });
});
