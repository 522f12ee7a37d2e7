/**
 * The web chat in a real headless Chromium (playwright-core, Debian's /usr/bin/chromium): sign in
 * with the claim link, chat, see an approval card, tap Approve, see the decided card. Screenshots of
 * the card before and after the tap go to test-artifacts/. With CI set, a missing browser fails.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import type { Card, InboundAction, InboundEvent, InboundMessage } from "../../bot/channel.js";
import { createWebChannel } from "../../bot/channels/web/index.js";
import { CHROMIUM, launchChromium } from "../fakes/browser.js";
import { pollUntil } from "../fakes/poll-until.js";

const HAVE_BROWSER = existsSync(CHROMIUM);
const MUST_RUN = process.env.CI !== undefined && process.env.CI !== "";
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url).pathname;

const CARD: Card = {
  title: "Approve POST api.example.test/v1/pay?",
  lines: [
    { label: "Agent", value: "billing" },
    { label: "Request", value: "POST https://api.example.test/v1/pay" },
  ],
  body: { text: '{\n  "amount": "<img src=x onerror=alert(2)>"\n}', hidden: 321 },
  link: "http://127.0.0.1:7420/approvals/7",
  agentSays: "Paying invoice 42 <img src=x onerror=alert(1)>",
  status: "Waiting: 0 of 1 approvals",
  buttons: [
    { label: "Approve", data: "ap:7:approve", style: "primary" },
    { label: "Deny", data: "ap:7:deny", style: "danger" },
  ],
};

const title =
  HAVE_BROWSER || MUST_RUN
    ? "web chat in headless Chromium: claim, chat, approve a card, see it decided"
    : `web chat in headless Chromium (skipped: ${CHROMIUM} not installed; set CI to make this fail)`;

describe("createWebChannel() in a browser", () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it.skipIf(!HAVE_BROWSER && !MUST_RUN)(title, { timeout: 60_000 }, async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is required when CI is set`).toBe(true);
    await mkdir(ARTIFACTS, { recursive: true });
    const received: InboundEvent[] = [];
    let claimed = false;
    const channel = createWebChannel({
      host: "127.0.0.1",
      port: 0,
      verifyToken: async (token) => {
        if (claimed || token !== "owner-claim-token") return undefined;
        claimed = true;
        return { userId: "owner1", name: "Olive Owner" };
      },
    });
    await channel.start(async (e) => {
      received.push(e);
    });
    try {
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      const agentChat = { platform: "web", chatId: "agent:billing" };
      await channel.sendText(agentChat, "Hi, I am the billing agent.");

      await page.goto(`${channel.url}/claim/owner-claim-token`);
      expect(new URL(page.url()).pathname).toBe("/");
      await expect.poll(() => page.locator("#me").textContent()).toBe("Olive Owner");
      await expect
        .poll(() => page.locator("nav#chats button").allTextContents())
        .toEqual(["Warden", "billing"]);

      await page.locator("#text").fill("/agent list");
      await page.locator("#composer button[type=submit]").click();
      const msg = (await pollUntil("typed message", async () =>
        received.find((e) => e.kind === "message"),
      )) as InboundMessage;
      expect(msg).toMatchObject({
        text: "/agent list",
        chat: { chatId: "dm:owner1" },
        isPrivate: true,
        from: { id: "web:owner1" },
      });
      await expect
        .poll(() => page.locator("#messages li.mine .text").last().textContent())
        .toBe("/agent list");

      await page.locator("nav#chats button", { hasText: "billing" }).click();
      const ref = await channel.sendCard(agentChat, CARD);
      const card = page.locator(".card");
      await card.waitFor();
      expect(await card.locator("h3").textContent()).toBe(CARD.title);
      expect(await card.locator(".agent .label").textContent()).toBe("Agent says (its own words)");
      expect(await card.locator(".agent .says").textContent()).toBe(CARD.agentSays);
      expect(await card.locator("img").count()).toBe(0);
      // Honest card: the body keeps its lines, says what it does not show, and the card links the full request.
      expect(await card.locator("pre.body").textContent()).toBe(
        `${CARD.body?.text}\n… 321 more characters not shown — see the full request`,
      );
      expect(await card.locator("a.full").getAttribute("href")).toBe(CARD.link);
      expect(await card.locator(".buttons button").allTextContents()).toEqual(["Approve", "Deny"]);
      await card.screenshot({ path: `${ARTIFACTS}web-card-before.png` });

      await card.locator("button", { hasText: "Approve" }).click();
      const action = (await pollUntil("action", async () =>
        received.find((e) => e.kind === "action"),
      )) as InboundAction;
      expect(action).toMatchObject({
        data: "ap:7:approve",
        ref,
        from: { id: "web:owner1", name: "Olive Owner" },
      });
      await action.reply("Approved: 1 of 1.");
      await page.locator(".toast", { hasText: "Approved: 1 of 1." }).waitFor();

      await channel.updateCard(ref, { ...CARD, status: "Approved by Olive Owner", buttons: [] });
      await expect.poll(() => page.locator(".card .status").textContent()).toBe("Approved by Olive Owner");
      expect(await page.locator(".card button").count()).toBe(0);
      await page.locator(".card").screenshot({ path: `${ARTIFACTS}web-card-after.png` });

      await page.reload();
      await page.locator("nav#chats button", { hasText: "billing" }).click();
      await expect.poll(() => page.locator(".card .status").textContent()).toBe("Approved by Olive Owner");
      expect(dialogs).toEqual([]);
    } finally {
      await channel.stop();
    }
  });
});
