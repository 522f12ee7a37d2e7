/**
 * The whole product with no fakes inside Warden: `warden start`'s wiring (runStart) with the real
 * gateway, bot, web chat, Telegram channel (grammy against a fake Bot API on 127.0.0.1), Docker
 * runtime and demo agent container. In headless Chromium the owner claims Warden, links Telegram,
 * starts the demo agent and asks it to send a report; the held request's card arrives in the Telegram
 * private chat and in the web chat; Approve is tapped in Telegram; both cards update, the demo service
 * receives the mail and the agent's answer shows in the web chat. Screenshots go to test-artifacts/.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { runStart } from "../../cli/start.js";
import { dockerUnavailable, REPO } from "../agents/agent-world.js";
import { browserUnavailable, launchChromium } from "../fakes/browser.js";
import { startFakeTelegram } from "../fakes/telegram-api.js";

const ARTIFACTS = join(REPO, "test-artifacts");
const noDocker = dockerUnavailable();
const noBrowser = browserUnavailable();
const skip = noDocker ?? noBrowser;
const OWNER_TG = 4242;

async function say(page: Page, text: string): Promise<void> {
  await page.locator("#text").fill(text);
  await page.locator("#composer button[type=submit]").click();
}

async function lastText(page: Page, match: RegExp): Promise<string> {
  let found = "";
  await expect
    .poll(
      async () => {
        const all = await page.locator("#messages li .text").allTextContents();
        found = all.reverse().find((t) => match.test(t)) ?? "";
        return found;
      },
      { timeout: 60_000 },
    )
    .toMatch(match);
  return found;
}

describe.skipIf(skip)(`quick start end to end${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let browser: Browser | undefined;
  let home = "";
  let close: (() => Promise<void>) | undefined;
  let closeTelegram: (() => Promise<void>) | undefined;
  let dumpLogs = (): string => "";

  afterAll(async () => {
    if (process.env.WARDEN_TEST_LOGS) await writeFile(process.env.WARDEN_TEST_LOGS, dumpLogs());
    await browser?.close();
    await close?.();
    await closeTelegram?.();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("web chat → bot → demo agent container → gateway → held; approved from a Telegram DM, then from the browser; cards update everywhere", {
    timeout: 240_000,
  }, async () => {
    const tg = await startFakeTelegram();
    closeTelegram = () => tg.close();
    home = await mkdtemp(join(tmpdir(), "wdn-quickstart-"));
    const logs: string[] = [];
    dumpLogs = () => logs.join("\n");
    const running = await runStart({
      home,
      repoRoot: REPO,
      listen: { host: "127.0.0.1", port: 0 },
      control: { host: "127.0.0.1", port: 0 },
      web: { host: "127.0.0.1", port: 0 },
      telegram: { token: tg.token, apiRoot: tg.apiRoot },
      masterKey: "a".repeat(64),
      agentEnv: {},
      log: (event, fields) => void logs.push(JSON.stringify({ event, ...fields })),
      say: (line) => void logs.push(line),
    });
    close = () => running.close();
    expect(running.claimUrl).toMatch(/\/claim\//);

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // phone-sized
    await page.goto(running.claimUrl ?? "");
    await page.locator("#text").waitFor();

    // Link the owner's Telegram account and make it where approvals go.
    await say(page, "/link");
    const code = /\/link (\S+)/.exec(await lastText(page, /\/link \S+/))?.[1] ?? "";
    tg.injectText({ from: { id: OWNER_TG, name: "Olive" }, text: `/link ${code}` });
    await tg.waitForCall("sendMessage", (p) => String(p.text).startsWith("Linked."));

    await say(page, "/agent start demo");
    await lastText(page, /Started demo/);
    // The agent has its own thread in the sidebar; talk to it there.
    await page.locator("nav#chats button", { hasText: "demo" }).click();
    await lastText(page, /Talk to it here/);
    await say(page, "send the report to Alice");

    // The card reaches the owner's Telegram private chat and the web chat the agent is bound to.
    const tgCard = await tg.waitForCall(
      "sendMessage",
      (p) =>
        String(p.chat_id) === String(OWNER_TG) && JSON.stringify(p.reply_markup ?? {}).includes("Approve"),
      90_000,
    );
    const webCard = page.locator(".card").last();
    await webCard.waitFor({ timeout: 60_000 });
    expect(await webCard.locator(".agent .says").textContent()).toContain("send the report to Alice");
    await mkdir(ARTIFACTS, { recursive: true });
    await webCard.screenshot({ path: join(ARTIFACTS, "quickstart-card-before.png") });

    const keyboard = (tgCard.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] })
      .inline_keyboard;
    const approve = keyboard.flat().find((b) => b.text === "Approve");
    expect(approve).toBeDefined();
    // The fake numbers messages itself: find the one carrying this card.
    const tgMessageId = tg.messageIdWithButton(OWNER_TG, approve?.callback_data ?? "-");
    expect(tgMessageId).toBeGreaterThan(0);
    tg.injectTap({
      from: { id: OWNER_TG, name: "Olive" },
      chatId: OWNER_TG,
      messageId: tgMessageId,
      data: approve?.callback_data ?? "",
    });

    // Both cards update (buttons gone), the mail is sent, and the agent says so in the web chat.
    const edited = await tg.waitForCall("editMessageText", (p) => p.message_id === tgMessageId, 60_000);
    expect(JSON.stringify(edited.reply_markup ?? {})).not.toContain("Approve");
    await expect.poll(() => webCard.locator("button").count(), { timeout: 30_000 }).toBe(0);
    await expect
      .poll(() => webCard.locator(".status").textContent(), { timeout: 30_000 })
      .toMatch(/Approved/);
    await webCard.screenshot({ path: join(ARTIFACTS, "quickstart-card-after.png") });
    await lastText(page, /Sending "Report" to alice@example\.com: done/);

    // Round two, decided in the browser: tap Approve on the web card; the Telegram card follows.
    const editsBefore = tg.callsTo("editMessageText").length;
    await say(page, "email bob the numbers");
    const second = page.locator(".card").last();
    await expect
      .poll(() => second.locator(".agent .says").textContent(), { timeout: 60_000 })
      .toContain("email bob");
    await second.locator("button", { hasText: /^Approve$/ }).click();
    await expect.poll(() => second.locator(".status").textContent(), { timeout: 30_000 }).toMatch(/Approved/);
    await lastText(page, /Sending "Note" to bob@example\.com: done/);
    await expect
      .poll(() => tg.callsTo("editMessageText").length, { timeout: 30_000 })
      .toBeGreaterThan(editsBefore);
  });
});
