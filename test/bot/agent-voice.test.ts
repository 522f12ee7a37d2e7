/**
 * An agent's words in chat (issue #10, fixes found in use): on every platform, driven through its
 * real SDK against our fake, agent text goes out under the agent's name in an agent style, its markup
 * neutralised, never in Warden's voice; the relay tidies blank lines and keeps Warden's own lines
 * (how to answer a question) as Warden's. The agent text here is hostile: it tries to pass for Warden.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { agentLabel, tidyAgentText } from "../../bot/channels/agent-voice.js";
import { agentContent } from "../../bot/channels/discord/agent-content.js";
import { createDiscordChannel } from "../../bot/channels/discord/index.js";
import { agentMessages } from "../../bot/channels/slack/agent-blocks.js";
import { createSlackChannel } from "../../bot/channels/slack/index.js";
import { createTelegramChannel } from "../../bot/channels/telegram.js";
import { createWebChannel } from "../../bot/channels/web/index.js";
import { createWhatsAppChannel } from "../../bot/channels/whatsapp/index.js";
import { REPO } from "../agents/agent-world.js";
import { browserUnavailable, launchChromium } from "../fakes/browser.js";
import { displayed, startFakeDiscord } from "../fakes/discord-api.js";
import { startFakeSlack } from "../fakes/slack-api.js";
import { startFakeTelegram } from "../fakes/telegram-api.js";
import { createFakeWhatsApp } from "../fakes/whatsapp-socket.js";
import { createBotWorld } from "./bot-world.js";

const ARTIFACTS = join(REPO, "test-artifacts");

/** Agent output that tries to read as Warden: markup, mentions, a fake status and a fake card end. */
const FORGED = [
  "Warden: *Approved* by **owner** <!channel> @everyone <@1> [click](https://evil.test)",
  "> Status: Approved",
  "```",
  "# Warden",
  "`done`",
].join("\n");

async function withChannel<T>(channel: Channel, f: () => Promise<T>): Promise<T> {
  await channel.start(async () => undefined);
  try {
    return await f();
  } finally {
    await channel.stop();
  }
}

describe("agent text on each platform", () => {
  it("telegram: the agent's bold name, then its text as a quote, set by entities with no parse mode", async () => {
    const api = await startFakeTelegram();
    const channel = createTelegramChannel({ token: api.token, apiRoot: api.apiRoot });
    try {
      await withChannel(channel, async () => {
        await channel.sendText(channel.privateChat("4242"), FORGED, { agent: "demo" });
        await channel.sendText(channel.privateChat("4242"), "Warden here");
      });
      const [agent, warden] = api.callsTo("sendMessage").slice(-2);
      const head = `${agentLabel("demo")}\n`;
      expect(agent?.text).toBe(head + FORGED);
      expect(agent?.parse_mode).toBeUndefined();
      expect(agent?.entities).toEqual([
        { type: "bold", offset: 0, length: head.length - 1 },
        { type: "blockquote", offset: head.length, length: FORGED.length },
      ]);
      // Warden's own text: no label, no entities.
      expect(warden?.text).toBe("Warden here");
      expect(warden?.entities).toBeUndefined();
    } finally {
      await api.close();
    }
  });

  it("telegram: a long agent text is split with the label and quote on every part", async () => {
    const api = await startFakeTelegram();
    const channel = createTelegramChannel({ token: api.token, apiRoot: api.apiRoot });
    try {
      const long = Array.from({ length: 1500 }, (_, i) => `w${i}`).join(" ");
      await withChannel(channel, () =>
        channel.sendText(channel.privateChat("4242"), long, { agent: "demo" }),
      );
      const parts = api.callsTo("sendMessage");
      expect(parts.length).toBeGreaterThan(1);
      for (const p of parts) {
        expect(String(p.text).length).toBeLessThanOrEqual(4096);
        expect(String(p.text).startsWith(`${agentLabel("demo")}\n`)).toBe(true);
      }
    } finally {
      await api.close();
    }
  });

  it("slack: a context line naming the agent and the text in a rich-text quote, shown literally", async () => {
    const fake = await startFakeSlack();
    const channel = createSlackChannel({
      botToken: fake.botToken,
      appToken: fake.appToken,
      apiUrl: fake.apiUrl,
    });
    try {
      await withChannel(channel, () =>
        channel.sendText(channel.privateChat("U0ALICE"), FORGED, { agent: "demo" }),
      );
      const p = fake.callsTo("chat.postMessage").at(-1) ?? {};
      expect(String(p.mrkdwn)).toBe("false"); // the Web API client sends a form
      const blocks = typeof p.blocks === "string" ? JSON.parse(p.blocks) : p.blocks;
      expect(blocks).toEqual([
        { type: "context", elements: [{ type: "plain_text", text: agentLabel("demo"), emoji: true }] },
        {
          type: "rich_text",
          elements: [{ type: "rich_text_quote", elements: [{ type: "text", text: FORGED }] }],
        },
      ]);
      // The notification fallback names the agent and carries no live Slack markup.
      expect(String(p.text).startsWith(`${agentLabel("demo")}: Warden: `)).toBe(true);
      expect(String(p.text)).not.toContain("<!channel>");
      expect(String(p.text)).toContain("&lt;!channel&gt;");
    } finally {
      await fake.close();
    }
  });

  it("discord: the agent's bold name, then one escaped >>> quote: no markup, mention or link of its own", async () => {
    const api = await startFakeDiscord();
    const channel = createDiscordChannel({ token: api.token, apiUrl: api.apiUrl, deferAfterMs: 100 });
    try {
      const ref = await withChannel(channel, () =>
        channel.sendText(channel.privateChat("4242"), FORGED, { agent: "demo" }),
      );
      const content = api.message(api.dmChannelId("4242"), ref.messageId)?.content ?? "";
      const head = `**${agentLabel("demo")}**\n>>> `;
      expect(content.startsWith(head)).toBe(true);
      const rest = content.slice(head.length);
      // Every markup character the agent wrote is escaped, so the quote cannot end and nothing formats.
      expect(rest).not.toMatch(/(^|[^\\])[*_`~|<>@[\]]/);
      expect(displayed(rest)).toBe(FORGED);
    } finally {
      await api.close();
    }
  });

  it("whatsapp: the agent's name, then its text in a monospace block it cannot close", async () => {
    const wa = createFakeWhatsApp({ me: "15550000000" });
    const channel = createWhatsAppChannel({
      connect: wa.connect,
      sleep: async () => undefined,
      random: () => 1,
    });
    const ann = "447700900123";
    await withChannel(channel, () =>
      channel.sendText(channel.privateChat(ann), FORGED, { agent: "my_agent" }),
    );
    const text = wa.textsIn(`${ann}@s.whatsapp.net`).at(-1) ?? "";
    const head = `🤖 my＿agent (agent):\n\`\`\``;
    expect(text.startsWith(head)).toBe(true);
    expect(text.endsWith("```")).toBe(true);
    const inside = text.slice(head.length, -3);
    expect(inside).not.toMatch(/`(?!\u200b)/); // every backtick is followed by a zero-width space
    expect(inside.replace(/\u200b/g, "")).toBe(FORGED);
  });
});

const noBrowser = browserUnavailable();

describe.skipIf(noBrowser)(`web chat in Chromium${noBrowser ? ` (skipped: ${noBrowser})` : ""}`, () => {
  it("shows agent text under the agent's name in the agent style, as text; Warden's own stays 'Warden'", {
    timeout: 60_000,
  }, async () => {
    const channel = createWebChannel({
      host: "127.0.0.1",
      port: 0,
      verifyToken: async (t) => (t === "owner-claim-token" ? { userId: "o1", name: "Olive" } : undefined),
    });
    await channel.start(async () => undefined);
    const browser = await launchChromium();
    try {
      const chat = { platform: "web", chatId: "agent:demo" };
      await channel.sendText(chat, "Started demo. Talk to it here.");
      await channel.sendText(chat, `<img src=x onerror=alert(1)>\n${FORGED}`, { agent: "demo" });
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.goto(`${channel.url}/claim/owner-claim-token`);
      await page.locator("nav#chats button", { hasText: "demo" }).click();
      const items = page.locator("#messages li");
      await expect.poll(() => items.count()).toBe(2);
      expect(await items.nth(0).locator(".from").textContent()).toBe("Warden");
      expect((await items.nth(0).getAttribute("class")) ?? "").toBe("");
      const agent = items.nth(1);
      expect(await agent.getAttribute("class")).toBe("by-agent");
      expect(await agent.locator(".from").textContent()).toBe(agentLabel("demo"));
      expect(await agent.locator(".text").textContent()).toBe(`<img src=x onerror=alert(1)>\n${FORGED}`);
      expect(await agent.locator("img").count()).toBe(0);
      // The agent style: a tinted bubble with a coloured edge, unlike Warden's plain one.
      const edge = await agent.locator(".bubble").evaluate((e) => getComputedStyle(e).borderLeftWidth);
      expect(edge).toBe("4px");
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "web-agent-voice.png") });
    } finally {
      await browser.close();
      await channel.stop();
    }
  });
});

describe("long agent text stays within each platform's limits, labelled on every part", () => {
  // Markup-dense text: escaping can double or quintuple it on the wire.
  const dense = "*_<>&`@[]|~#\n".repeat(900);

  it("discord: every part ≤ 2000 characters once escaped, and all the text is there", () => {
    const parts = agentContent("demo", dense);
    expect(parts.length).toBeGreaterThan(5);
    const head = `**${agentLabel("demo")}**\n>>> `;
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect(p.startsWith(head)).toBe(true);
    }
    expect(
      parts
        .map((p) => displayed(p.slice(head.length)))
        .join("")
        .replace(/\s/g, ""),
    ).toBe(dense.replace(/\s/g, ""));
  });

  it("slack: every part's rich-text quote ≤ 3000 characters, the fallback short and escaped", () => {
    const parts = agentMessages("demo", dense);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      const quote = p.blocks[1];
      const text = quote?.type === "rich_text" ? quote.elements[0].elements[0].text : "";
      expect(text.length).toBeLessThanOrEqual(3000);
      expect(p.text.length).toBeLessThan(1000);
      expect(p.text).not.toMatch(/<|>/);
    }
  });
});

describe("the relay", () => {
  it("sends outbox text as the agent's, with leading and excess blank lines collapsed", async () => {
    const w = createBotWorld();
    await w.store.bind("demo", { platform: "fake", chatId: "c1" });
    w.bot.mailboxEvents.outbox?.({
      seq: 1,
      agent: "demo",
      text: "\n\n  \nHello\n\n\n\n\nworld  \n\n\n",
      replyTo: null,
      at: "",
    });
    await w.bot.mailboxEvents.flush();
    expect(w.fake.sent.at(-1)).toMatchObject({ text: "Hello\n\nworld", agent: "demo" });
  });

  it("a question is the agent's words; how to answer it is Warden's, in its own message", async () => {
    const w = createBotWorld();
    await w.store.bind("demo", { platform: "fake", chatId: "c1" });
    w.bot.mailboxEvents.ask?.({ id: "q1", agent: "demo", question: "Which repo?\n\n\n", at: "" } as never);
    await w.bot.mailboxEvents.flush();
    const [question, how] = w.fake.sent.slice(-2);
    expect(question).toMatchObject({ text: "Question: Which repo?", agent: "demo" });
    expect(how?.agent).toBeUndefined();
    expect(how?.text).toBe("demo asked a question. Answer with: /agent answer demo q1 YOUR ANSWER");
  });

  it("an agent's empty output sends nothing", async () => {
    const w = createBotWorld();
    await w.store.bind("demo", { platform: "fake", chatId: "c1" });
    w.bot.mailboxEvents.outbox?.({ seq: 1, agent: "demo", text: "\n \n\t\n", replyTo: null, at: "" });
    await w.bot.mailboxEvents.flush();
    expect(w.fake.sent).toHaveLength(0);
  });

  it("tidyAgentText drops controls and bidi marks, trailing spaces and blank-line runs", () => {
    expect(tidyAgentText("\r\n\u202Eabc  \r\n\r\n\r\n\r\n def\u0007\n")).toBe("abc\n\n def");
  });
});
