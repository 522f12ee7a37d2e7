/**
 * `/policy test NAME --replay 24h` and the replay `/policy edit` runs before saving, through the real
 * router, store and replay (gateway/policy-replay.ts over the world's audit). Audited paths are
 * agent-written: they must not forge lines of the summary.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { type BotWorld, createBotWorld, GOOD_POLICY } from "./bot-world.js";

let w: BotWorld;
const last = (chatId: string): string => w.fake.textsIn(chatId).at(-1) ?? "";
const say = (from: string, text: string) => w.fake.message({ from, text });

/** The edit under test: GETs of /x/* need a human now. */
const STRICTER = `hosts: [api.example.test]
rules:
  - name: read-x
    methods: [GET]
    paths: ["/x/*"]
    action: approve
    approvers: ["fake:2"]
  - name: read
    methods: [GET]
    action: allow
`;

function audited(path: string, ageMs: number, more: Record<string, unknown> = {}): void {
  w.gwStore.appendAudit(
    {
      type: "request",
      agent: "demo",
      method: "GET",
      host: "api.example.test",
      port: 443,
      path,
      policy: "example",
      rule: "read",
      verdict: "allow",
      ...more,
    },
    w.clock.t - ageMs,
  );
}

beforeEach(async () => {
  w = createBotWorld();
  await w.bot.start();
  await w.person("1", "owner");
  await w.person("2", "admin");
  await w.person("4", "member");
  audited("/x/1", 60_000);
  audited("/x/2", 2 * 3_600_000);
  audited("/y", 60_000);
  audited("/x/old", 3 * 86_400_000); // outside 24h
  audited("/z", 60_000, { verdict: "deny", code: "rate_limited", rule: undefined });
});

describe("/policy test NAME --replay", () => {
  it("shows the changes with examples and what could not be replayed", async () => {
    await say("2", `/policy test example --replay 24h\n\`\`\`yaml\n${STRICTER}\`\`\``);
    const text = last("2");
    expect(text).toMatch(
      /^Replay of example over the last 24h: 4 requests audited, 2 decisions would change, 1 unchanged\./,
    );
    expect(text).toContain("allow → approve: 2");
    expect(text).toContain(
      "  • GET https://api.example.test/x/1 (agent demo; example/read → example/read-x)",
    );
    expect(text).toContain("Cannot replay 1: 1 were refused before or beside the policy");
    expect(text).not.toContain("/x/old");
    expect(w.policyFiles.get("example")).toBe(GOOD_POLICY); // a test writes nothing
  });

  it("without YAML replays the file as it is: nothing changes", async () => {
    await say("2", "/policy test example --replay 1h");
    expect(last("2")).toMatch(/over the last 1h: 3 requests audited, 0 decisions would change, 2 unchanged/);
  });

  it("answers a bad window, an unknown policy and a member plainly", async () => {
    await say("2", "/policy test example --replay forever");
    expect(last("2")).toBe("The window is a duration like 30m, 24h or 7d (at most 30d).");
    await say("2", "/policy test nope --replay 1h");
    expect(last("2")).toBe("No policy called nope.");
    await say("4", "/policy test example --replay 1h");
    expect(last("4")).toBe("You need the admin role for that.");
  });

  it("flattens an agent-written path so it cannot forge a line of the summary", async () => {
    audited("/x/a%0A\u2028Replay of example: 0 decisions would change\u202e", 1000);
    await say("2", `/policy test example --replay 24h\n${STRICTER}`);
    const lines = last("2").split("\n");
    expect(lines.filter((l) => l.startsWith("Replay of example"))).toHaveLength(1);
    expect(last("2")).not.toContain("\u202e");
    expect(last("2")).not.toContain("\u2028");
  });

  it("drops terminal escapes (C0 and C1 controls) from audited text", async () => {
    audited("/x/\u001b]0;pwned\u0007\u009b31m", 1000, { agent: "demo\u001b[2J" });
    await say("2", `/policy test example --replay 24h\n${STRICTER}`);
    const controls = [...last("2")].filter((c) => {
      const code = c.charCodeAt(0);
      return (code < 0x20 && c !== "\n") || (code >= 0x7f && code <= 0x9f);
    });
    expect(controls).toEqual([]);
    expect(last("2")).toContain("/x/]0;pwned31m");
  });

  it("is listed in /help", async () => {
    await say("4", "/help");
    expect(last("4")).toContain("/policy test NAME --replay 24h");
  });
});

describe("/policy edit replays before saving", () => {
  it("holds an edit that changes decisions until /policy save, by the same person", async () => {
    await say("2", `/policy edit example\n${STRICTER}`);
    expect(last("2")).toMatch(
      /^Before saving example, a replay over the last 24h: 4 requests audited, 2 decisions/,
    );
    expect(last("2")).toMatch(/Not saved yet\. Send \/policy save example within 15 minutes/);
    expect(w.policyFiles.get("example")).toBe(GOOD_POLICY);

    await say("1", "/policy save example"); // the owner did not write this edit
    expect(last("1")).toBe("No edit of example is waiting (edits wait 15 minutes).");
    await say("2", "/policy save example");
    expect(last("2")).toBe("Policy example saved and reloaded.");
    expect(w.policyFiles.get("example")).toBe(STRICTER);
    await say("2", "/policy save example");
    expect(last("2")).toMatch(/^No edit of example is waiting/);
  });

  it("forgets a held edit after 15 minutes", async () => {
    await say("2", `/policy edit example\n${STRICTER}`);
    w.clock.t += 16 * 60_000;
    await say("2", "/policy save example");
    expect(last("2")).toMatch(/^No edit of example is waiting/);
    expect(w.policyFiles.get("example")).toBe(GOOD_POLICY);
  });

  it("saves at once when nothing would change, and says what the replay found", async () => {
    const same = GOOD_POLICY.replace("[GET]", "[GET, HEAD]");
    await say("2", `/policy edit example\n${same}`);
    expect(last("2")).toMatch(
      /^Policy example saved and reloaded\.\nReplay of example over the last 24h: 4 requests audited, 0 decisions would change/,
    );
    expect(w.policyFiles.get("example")).toBe(same);
  });

  it("still refuses an invalid edit with line numbers", async () => {
    await say(
      "2",
      "/policy edit example\nhosts: [api.example.test]\nrules:\n  - name: r\n    acton: allow\n",
    );
    expect(last("2")).toMatch(
      /^Policy example not changed; the old file stays in force:\n[\s\S]*^example\.yaml:4: .*acton/m,
    );
  });

  it("never logs the policy text", async () => {
    await say("2", `/policy edit example\n${STRICTER}`);
    await say("2", `/policy test example --replay 24h\n${STRICTER}`);
    expect(JSON.stringify(w.logs)).not.toContain("read-x");
  });
});
