/**
 * Slack for a DevOps team, end to end with no fakes inside Warden: `warden start`'s wiring
 * (runStart) with the real gateway, bot, Bolt in Socket Mode against our fake Slack, grammY against
 * our fake Telegram, the Docker runtime and a real demo agent container. The owner claims Warden
 * from a Slack DM, links Telegram, types `/agent start demo` in a Slack channel, and asks the agent
 * (in its thread) to send a report; the held request's card reaches the owner's Telegram DM and the
 * Slack thread; Approve is tapped in Telegram; the Slack card loses its buttons and the agent's
 * answer arrives in the thread.
 */
import { afterAll, describe, expect, it } from "vitest";
import { dockerUnavailable } from "../agents/agent-world.js";
import { pollUntil } from "../fakes/poll-until.js";
import { startFakeSlack } from "../fakes/slack-api.js";
import { startFakeTelegram } from "../fakes/telegram-api.js";
import { startTestWarden } from "./test-warden.js";

const skip = dockerUnavailable();
const OWNER = "UOWNER001";
const OPS = "COPS00001";
const OWNER_TG = 4242;

describe.skipIf(skip)(`Slack → Telegram approval end to end${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it("/agent start in Slack; the agent's risky request is approved from a Telegram DM", {
    timeout: 240_000,
  }, async () => {
    const slack = await startFakeSlack();
    const tg = await startFakeTelegram();
    cleanup.push(
      () => slack.close(),
      () => tg.close(),
    );
    const running = await startTestWarden("slack-e2e", {
      telegram: { token: tg.token, apiRoot: tg.apiRoot },
      slack: { botToken: slack.botToken, appToken: slack.appToken, apiUrl: slack.apiUrl },
    });
    cleanup.push(() => running.close());
    const dm = (re: RegExp) =>
      pollUntil(`a DM matching ${re}`, () => slack.texts(OWNER).find((t) => re.test(t)), 30_000);

    // The owner claims this Warden from a Slack DM with the one-time token, then links Telegram.
    await slack.slashCommand({ user: OWNER, command: "/start", text: running.claimToken, channel: OWNER });
    await dm(/you are owner/);
    await slack.slashCommand({ user: OWNER, command: "/link", channel: OWNER });
    const code = /\/link (\S+)/.exec(await dm(/\/link \S+/))?.[1] ?? "";
    tg.injectText({ from: { id: OWNER_TG, name: "Olive" }, text: `/link ${code}` });
    await tg.waitForCall("sendMessage", (p) => String(p.text).startsWith("Linked."));

    // `/agent start demo` in the team channel: the agent gets a thread there.
    await slack.slashCommand({ user: OWNER, command: "/agent", text: "start demo", channel: OPS });
    const root = await pollUntil(
      "the agent's thread",
      () => slack.posted(OPS).find((m) => /^Agent demo: talk to it in this thread/.test(m.text)),
      120_000,
    );
    await pollUntil("Started", () => slack.texts(OPS).find((t) => /Started demo/.test(t)), 30_000);
    await slack.mention({ user: OWNER, channel: OPS, text: "send the report to Alice", thread_ts: root.ts });

    // The card reaches the owner's Telegram DM (linked last, so preferred) and the Slack thread.
    const tgCard = await tg.waitForCall(
      "sendMessage",
      (p) =>
        String(p.chat_id) === String(OWNER_TG) && JSON.stringify(p.reply_markup ?? {}).includes("Approve"),
      90_000,
    );
    const slackCard = await pollUntil(
      "the card in the Slack thread",
      () => slack.posted(OPS).find((m) => m.thread_ts === root.ts && slack.buttons(OPS, m.ts).length > 0),
      30_000,
    );
    expect(JSON.stringify(slackCard.blocks)).toContain("send the report to Alice");

    const keyboard = (tgCard.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] })
      .inline_keyboard;
    const approve = keyboard.flat().find((b) => b.text === "Approve");
    const tgMessageId = tg.messageIdWithButton(OWNER_TG, approve?.callback_data ?? "-");
    tg.injectTap({
      from: { id: OWNER_TG, name: "Olive" },
      chatId: OWNER_TG,
      messageId: tgMessageId,
      data: approve?.callback_data ?? "",
    });

    // The Slack card is updated without buttons; the agent reports the mail sent, in its thread.
    await pollUntil(
      "Slack buttons gone",
      () => (slack.buttons(OPS, slackCard.ts).length === 0 ? true : undefined),
      30_000,
    );
    expect(JSON.stringify(slack.current(OPS, slackCard.ts)?.blocks)).toMatch(/Approved by/);
    const answer = await pollUntil(
      "the agent's answer",
      () =>
        slack
          .posted(OPS)
          .find(
            (m) => m.thread_ts === root.ts && /Sending "Report" to alice@example\.com: done/.test(m.text),
          ),
      60_000,
    );
    expect(answer.bot_id).toBeDefined();
    // Nothing Warden said in Slack or Telegram carries the demo service's real key.
    const everything = JSON.stringify([slack.posted(OPS), slack.posted(OWNER), tg.callsTo("sendMessage")]);
    expect(everything).not.toMatch(/DEMO_API_KEY=|[0-9a-f]{32}/);
  });
});
