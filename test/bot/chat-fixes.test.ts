/**
 * Fixes found when the chat was tried as a new user would (issue #10), through the real SDKs against
 * our fakes: a person's private chat is the DM itself, never a thread in it; logs carry command names
 * only (no claim token, invitation token, link code, secret value or policy text); wrong /link codes
 * lock out the sender, and everyone once many were sent, without the code ever being logged.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Channel } from "../../bot/channel.js";
import { createSlackChannel } from "../../bot/channels/slack/index.js";
import { createTelegramChannel } from "../../bot/channels/telegram.js";
import { UNKNOWN_PERSON_REPLY } from "../../bot/roles.js";
import { pollUntil } from "../fakes/poll-until.js";
import { startFakeSlack } from "../fakes/slack-api.js";
import { type FakeTelegram, startFakeTelegram } from "../fakes/telegram-api.js";
import { createBotWorld, GOOD_POLICY } from "./bot-world.js";

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

type Logged = { event: string; fields: Record<string, unknown> };

/** A bot world whose extra channel is Telegram (grammY against the fake), its log kept too. */
async function telegramWorld() {
  const api = await startFakeTelegram();
  const channelLogs: Logged[] = [];
  const channel = createTelegramChannel({
    token: api.token,
    apiRoot: api.apiRoot,
    log: (event, fields) => void channelLogs.push({ event, fields }),
  });
  const w = createBotWorld({ channels: [channel] });
  await w.bot.start();
  cleanup.push(
    () => w.bot.stop(),
    () => api.close(),
  );
  /** Sends `text` from Telegram user `id` and waits for the bot's next answer in that private chat. */
  async function say(id: number, text: string, threadId?: number): Promise<string> {
    const before = api.callsTo("sendMessage").filter((p) => String(p.chat_id) === String(id)).length;
    api.injectText({
      from: { id, name: `user ${id}` },
      text,
      ...(threadId === undefined ? {} : { threadId }),
    });
    const answer = await pollUntil(`an answer to ${id}`, () => {
      const mine = api.callsTo("sendMessage").filter((p) => String(p.chat_id) === String(id));
      return mine.length > before ? String(mine.at(-1)?.text) : undefined;
    });
    return answer;
  }
  const allLogs = () => JSON.stringify([...w.logs, ...channelLogs]);
  return { api, w, say, allLogs };
}

/** Card messages (with Approve buttons) Telegram was asked to send. */
const cardsSent = (api: FakeTelegram) =>
  api.callsTo("sendMessage").filter((p) => JSON.stringify(p.reply_markup ?? {}).includes("Approve"));

describe("a person's private chat is the DM, never a thread in it", () => {
  it("slack: after the owner writes in an agent's thread inside their DM, cards still land in the DM itself", async () => {
    const fake = await startFakeSlack();
    const slack: Channel = createSlackChannel({
      botToken: fake.botToken,
      appToken: fake.appToken,
      apiUrl: fake.apiUrl,
    });
    const w = createBotWorld({ channels: [slack] });
    await w.bot.start();
    cleanup.push(
      () => w.bot.stop(),
      () => fake.close(),
    );
    await w.store.createPerson("slack:U0OWNER", "Olive", "owner");
    const root = await slack.sendText(slack.privateChat("U0OWNER"), "Agent demo: talk to it in this thread.");
    const thread = { platform: "slack", chatId: "U0OWNER", threadId: root.messageId };
    await w.store.bind("demo", thread);

    await fake.message({ user: "U0OWNER", text: "please file the report", thread_ts: root.messageId });
    await pollUntil("the agent told", () => (w.told.length > 0 ? true : undefined));
    expect(await w.store.privateChatOf("slack:U0OWNER")).toEqual({ platform: "slack", chatId: "U0OWNER" });

    await w.hold({ approvers: ["role:owner"] });
    const cards = await pollUntil("two cards (the DM and the agent's thread)", () => {
      const c = fake
        .callsTo("chat.postMessage")
        .filter((p) => JSON.stringify(p.blocks ?? "").includes("actions"));
      return c.length >= 2 ? c : undefined;
    });
    expect(cards.map((p) => p.thread_ts ?? null).sort()).toEqual([root.messageId, null].sort());
  });

  it("telegram: a message in a private-chat topic is not remembered as the person's private chat", async () => {
    const { api, w, say } = await telegramWorld();
    await w.store.createPerson("telegram:4242", "Olive", "owner");
    await say(4242, "/start", 77);
    expect(await w.store.privateChatOf("telegram:4242")).toEqual({ platform: "telegram", chatId: "4242" });
    await w.hold({ approvers: ["role:owner"] });
    const [card] = await pollUntil("the card", () => {
      const c = cardsSent(api);
      return c.length > 0 ? c : undefined;
    });
    expect(String(card?.chat_id)).toBe("4242");
    expect(card?.message_thread_id).toBeUndefined();
  });
});

describe("logs carry command names only", () => {
  it("no claim token, invitation token, link code, wrong code, secret value or policy text in any log", async () => {
    const { w, say, allLogs } = await telegramWorld();
    await w.store.createPerson("telegram:4242", "Olive", "owner");

    const claim = await w.store.issueToken("claim", { ttlMs: 60_000 });
    await say(8181, `/start ${claim}`);
    const invite = /\/start (\S+)/.exec(await say(4242, "/invite member"))?.[1] ?? "";
    expect(invite.length).toBeGreaterThan(20);
    expect(await say(5151, `/start ${invite}`)).toMatch(/^Welcome/);
    const code = /\/link (\S+)/.exec(await say(4242, "/link"))?.[1] ?? "";
    expect(code).toMatch(/^[A-Z2-9]{8}$/);
    expect(await say(6161, `/link ${code}`)).toMatch(/^Linked/);
    await say(7171, "/link WRNGC0DE");
    await say(4242, "/secret set API_KEY s3cr3t-VALUE-0042");
    expect(w.secrets.get("API_KEY")).toBe("s3cr3t-VALUE-0042");
    const policy = GOOD_POLICY.replace("api.example.test", "leak-marker.example.test");
    expect(await say(4242, `/policy edit example\n${policy}`)).toMatch(/saved|updated|example/i);

    const logs = allLogs();
    for (const leak of [claim, invite, code, "WRNGC0DE", "s3cr3t-VALUE-0042", "leak-marker"])
      expect(logs, `log carries ${leak.slice(0, 4)}…`).not.toContain(leak);
    const commands = w.logs.filter((l) => l.event === "bot_command");
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const c of commands) expect(Object.keys(c.fields).sort()).toEqual(["by", "command"]);
  });
});

describe("/link codes: wrong attempts are limited", () => {
  it("telegram: five wrong codes lock the sender out; a right code is then not even looked at (not burned)", async () => {
    const { w, say, allLogs } = await telegramWorld();
    await w.store.createPerson("telegram:4242", "Olive", "owner");
    const wrong = ["AAAAAAAA", "BBBBBBBB", "CCCCCCCC", "DDDDDDDD"];
    for (const c of wrong) expect(await say(9191, `/link ${c}`)).toBe(UNKNOWN_PERSON_REPLY);
    expect(await say(9191, "/link EEEEEEEE")).toMatch(
      /^That code is not valid\. Too many wrong link codes from you\. Try again in 15 minutes/,
    );
    const code = /\/link (\S+)/.exec(await say(4242, "/link"))?.[1] ?? "";
    expect(await say(9191, `/link ${code}`)).toMatch(/^Too many wrong link codes from you/);
    expect(await w.store.personOf("telegram:9191")).toBeUndefined();
    // The code was not burned by the locked attempt: its rightful user can still use it.
    expect(await say(9292, `/link ${code}`)).toMatch(/^Linked/);
    const locked = w.logs.filter((l) => l.event === "bot_link_locked");
    expect(locked.map((l) => l.fields)).toEqual([
      { by: "telegram:9191", scope: "person" },
      { by: "telegram:9191", scope: "person" },
    ]);
    expect(allLogs()).not.toContain(code);
    expect(allLogs()).not.toContain("EEEEEEEE");
  });

  it("many senders together: repeat guessers pause, a newcomer's right code still links", async () => {
    const w = createBotWorld();
    await w.bot.start();
    await w.person("1", "owner");
    const say = async (from: string, text: string) => {
      await w.fake.message({ from, text });
      return w.fake.textsIn(from).at(-1) ?? "";
    };
    for (let id = 100; id < 106; id++)
      for (let i = 0; i < 5; i++) await say(String(id), `/link ZZZZ${id}${i}`);
    expect(await say("100", "/link ZZZZ1009")).toMatch(/^Too many wrong link codes/);
    // A stranger with no wrong code yet (the person linking a new app) still gets their try.
    expect(await say("201", "/link WRONG201")).toMatch(
      /^That code is not valid\. Too many wrong link codes were sent to me recently/,
    );
    expect(await say("201", "/link WRONG202")).toMatch(/^Too many wrong link codes were sent to me recently/);
    expect(w.logs.filter((l) => l.event === "bot_link_locked").at(-1)?.fields).toEqual({
      by: "fake:201",
      scope: "global",
    });
    const code = /\/link (\S+)/.exec(await say("1", "/link"))?.[1] ?? "";
    expect(await say("200", `/link ${code}`)).toMatch(/^Linked/);
    w.clock.t += 15 * 60_000 + 1;
    expect(await say("201", "/link WRONG203")).not.toMatch(/Too many/);
  });
});
