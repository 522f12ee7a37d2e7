/**
 * Chat commands through the real router and store, on a fake channel and a fake ControlPort:
 * permissions, usage help, secrets, policy edits, agent chat, people and identity links.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { type BotWorld, createBotWorld, GOOD_POLICY } from "./bot-world.js";

let w: BotWorld;
const last = (chatId: string): string => w.fake.textsIn(chatId).at(-1) ?? "";
const say = (from: string, text: string, extra: { chatId?: string; mentioned?: boolean } = {}) =>
  w.fake.message({ from, text, ...extra });

beforeEach(async () => {
  w = createBotWorld();
  await w.bot.start();
  await w.person("1", "owner");
  await w.person("2", "admin");
  await w.person("4", "member");
});

describe("router", () => {
  it("gives strangers one polite refusal and nothing else", async () => {
    for (const text of ["/agent list", "hello", "/secret list", "/nonsense"]) await say("99", text);
    expect(w.fake.textsIn("99")).toEqual(
      Array(4).fill("Sorry, I don't know you yet. Ask the owner of this Warden for an invitation link."),
    );
    expect(w.told).toEqual([]);
  });

  it("answers unknown commands with a pointer to /help", async () => {
    await say("4", "/frobnicate now");
    expect(last("4")).toBe("I don't know /frobnicate. Send /help for the list of commands.");
    await say("4", "/help");
    expect(last("4")).toMatch(/\/agent start NAME \[provider\][\s\S]*\/policy edit NAME/);
  });

  it("shows usage on bad arguments", async () => {
    await say("2", "/agent start");
    expect(last("2")).toMatch(/^Usage:\n\/agent list/);
    await say("2", "/audit lots");
    expect(last("2")).toMatch(/^Usage:\n\/audit/);
  });

  it("refuses a 100 KB message politely and does nothing with it", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "4" });
    await say("4", "x".repeat(100 * 1024));
    expect(last("4")).toBe("That message is too long for me (limit 16 KB).");
    expect(w.told).toEqual([]);
  });

  it("in groups answers only commands and mentions, and ignores /cmd@otherbot", async () => {
    await w.store.bind("demo", { platform: "fake", chatId: "g1" });
    await say("4", "just chatting", { chatId: "g1" });
    await say("4", "/help@some_other_bot", { chatId: "g1" });
    expect(w.fake.textsIn("g1")).toEqual([]);
    expect(w.told).toEqual([]);
    await say("4", "@warden_bot what's up", { chatId: "g1", mentioned: true });
    expect(w.told).toEqual([{ agent: "demo", text: "@warden_bot what's up", from: "fake:4" }]);
    await say("4", "/help@warden_bot", { chatId: "g1" });
    expect(last("g1")).toMatch(/^Commands:/);
  });
});

describe("createBot()", () => {
  it("drops an event whose sender claims another platform than the channel that delivered it", async () => {
    await w.store.createPerson("tg:5", "T", "owner");
    await w.bot.handle(w.fake.channel, {
      kind: "message",
      from: { id: "tg:5", name: "T" },
      chat: { platform: "fake", chatId: "5" },
      isPrivate: true,
      mentioned: false,
      text: "/secret list",
      ref: { platform: "fake", chatId: "5", messageId: "1" },
    });
    expect(w.fake.sent).toEqual([]);
    expect(w.logs.map((l) => l.event)).toContain("bot_event_dropped");
  });

  it("one platform failing to start leaves the others running, and says which and why", async () => {
    const { createBot } = await import("../../bot/bot.js");
    const { createFakeChannel } = await import("../fakes/fake-channel.js");
    const good = createFakeChannel({ platform: "good" });
    const broken = { ...createFakeChannel({ platform: "broken" }).channel };
    broken.start = async () => {
      throw new Error("Slack start failed: invalid_auth (the bot token was rejected)");
    };
    const logs: string[] = [];
    const bot = createBot({
      channels: [broken, good.channel],
      control: w.control,
      store: w.store,
      log: (e) => void logs.push(e),
    });
    expect(await bot.start()).toEqual([
      { platform: "broken", error: "Slack start failed: invalid_auth (the bot token was rejected)" },
    ]);
    await w.store.createPerson("good:1", "G", "member");
    await good.message({ from: "1", text: "/start" });
    expect(good.textsIn("1")).toEqual(["Hello G, you are member. Send /help to see what I can do."]);
    expect(logs).toContain("bot_channel_failed");
  });

  it("accepts the ControlPort as a getter, for wiring before the gateway exists", async () => {
    const { createBot } = await import("../../bot/bot.js");
    let port: typeof w.control | undefined;
    const bot = createBot({
      channels: [],
      control: () => port ?? (undefined as never),
      store: w.store,
      log: () => {},
    });
    port = w.control;
    expect(bot.approver).toBeDefined();
    expect(await bot.claimUrl("http://x")).toBeNull();
  });
});

describe("/agent", () => {
  it("start binds the agent to the chat; plain messages go to it and its replies come back", async () => {
    await say("2", "/agent start demo");
    expect(last("2")).toBe("Started demo (demo). Its replies come to this chat.");
    await say("4", "/agent start other");
    expect(last("4")).toBe("You need the admin role for that.");
    await say("2", "please summarise");
    expect(w.told).toEqual([{ agent: "demo", text: "please summarise", from: "fake:2" }]);
    w.bot.mailboxEvents.outbox?.({ seq: 1, agent: "demo", text: "Here you go", replyTo: null, at: "" });
    await w.bot.mailboxEvents.flush();
    expect(last("2")).toBe("Here you go");
    expect(w.fake.sent.at(-1)?.agent).toBe("demo"); // shown as the agent's words, not Warden's
  });

  it("an agent's 'thinking' shows as typing in its chats (at most every 4 s); an error is said", async () => {
    await say("2", "/agent start demo");
    const thinking = { state: "thinking" as const, detail: null, at: "" };
    w.bot.mailboxEvents.status?.("demo", thinking);
    w.bot.mailboxEvents.status?.("demo", thinking);
    await w.bot.mailboxEvents.flush(); // the bound chats are read from the (async) store first
    expect(w.fake.typing).toEqual([{ platform: "fake", chatId: "2" }]);
    w.clock.t += 4_000;
    w.bot.mailboxEvents.status?.("demo", thinking);
    await w.bot.mailboxEvents.flush();
    expect(w.fake.typing).toHaveLength(2);
    w.bot.mailboxEvents.status?.("demo", { state: "error", detail: "model unreachable", at: "" });
    await w.bot.mailboxEvents.flush();
    expect(last("2")).toBe("Error: model unreachable");
    expect(w.fake.sent.at(-1)?.agent).toBe("demo");
  });

  it("list is open to members; ask sends text to the agent", async () => {
    await say("1", "/agent start demo claude");
    await say("4", "/agent list");
    expect(last("4")).toBe("demo: running (claude)");
    await say("4", "/agent ask demo what is\nthe time");
    expect(w.told.at(-1)).toEqual({ agent: "demo", text: "what is\nthe time", from: "fake:4" });
  });

  it("a plain message in a chat with no agent explains how to start one", async () => {
    await say("4", "hello");
    expect(last("4")).toMatch(/No agent is connected to this chat/);
  });
});

describe("/secret", () => {
  it("refuses a secret pasted in a group: not stored, warned, delete attempted", async () => {
    await say("2", "/secret set GH_TOKEN ghp_supersecret123", { chatId: "g1" });
    expect(w.secrets.size).toBe(0);
    expect(w.fake.deleted.map((r) => r.chatId)).toEqual(["g1"]);
    expect(last("g1")).toMatch(
      /only be set in a private chat.*did not store it.*rotate it.*deleted your message/,
    );
    expect(JSON.stringify(w.fake.sent)).not.toContain("ghp_supersecret123");
    expect(JSON.stringify(w.logs)).not.toContain("ghp_supersecret123");
  });

  it("refuses even a stranger's pasted secret in a group and still takes it down", async () => {
    await say("99", "/secret set X s3cr3t-value", { chatId: "g1" });
    expect(w.secrets.size).toBe(0);
    expect(w.fake.deleted).toHaveLength(1);
  });

  it("on a platform that cannot delete, says so", async () => {
    await w.store.createPerson("tg:5", "T", "admin");
    await w.tg.message({ from: "5", text: "/secret set GH_TOKEN abc", chatId: "tg-g" });
    expect(w.tg.textsIn("tg-g").at(-1)).toMatch(/could not delete your message; please delete it now/);
    expect(w.secrets.size).toBe(0);
  });

  it("stores a secret in private, deletes the message and never echoes the value", async () => {
    await say("2", "/secret set GH_TOKEN ghp_supersecret123");
    expect(w.secrets.get("GH_TOKEN")).toBe("ghp_supersecret123");
    expect(last("2")).toBe("Stored secret GH_TOKEN. I deleted your message.");
    expect(JSON.stringify(w.fake.sent)).not.toContain("ghp_supersecret123");
    expect(JSON.stringify(w.logs)).not.toContain("ghp_supersecret123");
    await say("2", "/secret list");
    expect(last("2")).toBe("Secrets: GH_TOKEN");
    await say("2", "/secret delete GH_TOKEN");
    expect(w.secrets.size).toBe(0);
  });

  it("a slash command (never posted) is stored without a delete, and the reply says why", async () => {
    await w.fake.message({ from: "2", text: "/secret set GH_TOKEN ghp_slash", unposted: true });
    expect(w.secrets.get("GH_TOKEN")).toBe("ghp_slash");
    expect(w.fake.deleted).toHaveLength(0);
    expect(last("2")).toBe(
      "Stored secret GH_TOKEN. (A slash command is not posted, so nobody else saw the value.)",
    );
    await w.fake.message({
      from: "2",
      text: "/secret set X y",
      chatId: "g",
      isPrivate: false,
      unposted: true,
    });
    expect(w.fake.textsIn("g").at(-1)).toMatch(/I did not store it\. A slash command is not posted/);
    expect(w.secrets.has("X")).toBe(false);
  });

  it("members cannot set secrets (and the message is still deleted)", async () => {
    await say("4", "/secret set GH_TOKEN nope-value");
    expect(w.secrets.size).toBe(0);
    expect(w.fake.deleted).toHaveLength(1);
    expect(last("4")).toBe("You need the admin role for that.");
  });
});

describe("/policy", () => {
  it("edit rejects a malformed paste with line numbers and keeps the old file", async () => {
    await say(
      "2",
      "/policy edit example\n```yaml\nhosts: [api.example.test]\nrules:\n  - name: read\n    metods: [GET]\n    action: allow\n```",
    );
    expect(last("2")).toMatch(
      /^Policy example not changed; the old file stays in force:\nexample\.yaml:4: .*metods/m,
    );
    expect(w.policyFiles.get("example")).toBe(GOOD_POLICY);
  });

  it("edit accepts valid YAML on the following lines", async () => {
    const next = GOOD_POLICY.replace("[GET]", "[GET, HEAD]");
    await say("2", `/policy edit example\n${next}`);
    expect(last("2")).toBe("Policy example saved and reloaded.");
    expect(w.policyFiles.get("example")).toBe(next);
  });

  it("list, show and test", async () => {
    await say("4", "/policy list");
    expect(last("4")).toBe("example: api.example.test");
    await say("4", "/policy show example");
    expect(last("4")).toBe("You need the admin role for that.");
    await say("2", "/policy test demo GET https://api.example.test/x");
    expect(last("2")).toBe("allow: policy example, rule read");
    await say("2", "/policy test demo GET https://nope.test/");
    expect(last("2")).toMatch(/^deny/);
  });
});

describe("/approvals and /audit", () => {
  it("lists pending approvals with ids", async () => {
    await w.person("3", "approver");
    const { view } = await w.hold();
    await say("4", "/approvals");
    expect(last("4")).toContain(
      `${view.id}  demo POST api.example.test/v1/things  (0 of 1, expires in 5 min)`,
    );
  });

  it("shows the last N audit entries to admins only", async () => {
    await w.person("3", "approver");
    await w.hold();
    await say("4", "/audit");
    expect(last("4")).toBe("You need the admin role for that.");
    await say("2", "/audit 1");
    expect(last("2")).toMatch(/^#1 .*approval_requested/);
  });
});

describe("people", () => {
  it("the owner claim works once; the first claim wins and the token is burned", async () => {
    const fresh = createBotWorld();
    await fresh.bot.start();
    const url = await fresh.bot.claimUrl("http://127.0.0.1:7420/");
    const token = url?.split("/claim/")[1] ?? "";
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:7420\/claim\//);
    await fresh.fake.message({ from: "7", text: `/start ${token}`, name: "Olga" });
    expect(fresh.fake.textsIn("7").at(-1)).toBe(
      "Welcome Olga: you are owner. Send /help to see what I can do.",
    );
    await fresh.fake.message({ from: "8", text: `/start ${token}` });
    expect(fresh.fake.textsIn("8").at(-1)).toMatch(/^Sorry, I don't know you yet/);
    expect(await fresh.bot.roles.hasRole("fake:7", "owner")).toBe(true);
    expect(await fresh.bot.roles.hasRole("fake:8", "member")).toBe(false);
    expect(await fresh.bot.claimUrl("http://x")).toBeNull();
  });

  it("/invite makes a one-time token with a role", async () => {
    await say("2", "/invite approver");
    const token = /\/start (\S+)/.exec(last("2"))?.[1] ?? "";
    await say("50", `/start ${token}`);
    expect(last("50")).toMatch(/you are approver/);
    await say("51", `/start ${token}`);
    expect(last("51")).toMatch(/^Sorry/);
  });

  it("/link joins two platforms to one person and roles follow", async () => {
    await say("1", "/link");
    const code = /\/link (\S+)/.exec(last("1"))?.[1] ?? "";
    await w.tg.message({ from: "11", text: `/link ${code.toLowerCase()}` });
    expect(w.tg.textsIn("11").at(-1)).toBe("Linked. I will message you on tg from now on.");
    expect(await w.bot.roles.hasRole("tg:11", "owner")).toBe(true);
    await w.tg.message({ from: "12", text: `/link ${code}` });
    expect(await w.bot.roles.hasRole("tg:12", "member")).toBe(false);
  });

  it("/link refuses in groups, so a code is never typed where others can use it first", async () => {
    await say("1", "/link", { chatId: "g1" });
    expect(last("g1")).toBe("For your safety, do that in a private chat with me.");
  });

  it("/role: admins grant up to admin, only owners touch owners, the last owner stays", async () => {
    await say("2", "/role fake:4 approver");
    expect(last("2")).toBe("user 4 is now approver.");
    await say("2", "/role fake:1 member");
    expect(last("2")).toBe("Only an owner can make or change an owner.");
    await say("1", "/role fake:1 admin");
    expect(last("1")).toBe("This Warden needs at least one owner.");
    await say("4", "/role fake:4 admin");
    expect(last("4")).toBe("You need the admin role for that.");
    await say("1", "/role tg:77 approver");
    expect(await w.bot.roles.hasRole("tg:77", "approver")).toBe(true);
  });
});
