/**
 * `warden start` with GitHub switched on by its settings: the shared webhook listener comes up on
 * its own port, says where GitHub must call, hands a genuine signed comment to the bot (which
 * answers a stranger politely in the issue) and refuses a forged one without the bot seeing it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type FakeGitHub, GITHUB_BOT, startFakeGitHub } from "../fakes/github-api.js";
import { hubSignature, rawPost } from "../fakes/webhook-client.js";
import { startTestWarden } from "./test-warden.js";

const SECRET = "gh-start-secret";
let gh: FakeGitHub | undefined;
let w: Awaited<ReturnType<typeof startTestWarden>> | undefined;
afterEach(async () => {
  await w?.close();
  await gh?.close();
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
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("warden start: GitHub through the Chat SDK", () => {
  it("listens for webhooks, answers a signed comment, refuses a forged one", async () => {
    gh = await startFakeGitHub(SECRET);
    w = await startTestWarden("chatsdk", {
      chatSdk: {
        webhooks: { host: "127.0.0.1", port: 0 },
        github: { webhookSecret: SECRET, token: "ghp_test", apiUrl: gh.url },
      },
    });
    const line = await until("the webhook line", () =>
      w?.said.find((l) => l.startsWith("github: webhooks at ")),
    );
    const url = /(http:\/\/127\.0\.0\.1:\d+)\/webhooks\/github$/.exec(line)?.[1] ?? "";
    expect(url).not.toBe("");
    expect((await gh.comment(url, { user: { id: 4242, login: "stranger" }, text: "/help" })).status).toBe(
      200,
    );
    const reply = await until("a reply", () =>
      gh?.commentsIn("github:acme/app:issue:7").find((c) => c.user.id === GITHUB_BOT.id),
    );
    expect(reply.body.length).toBeGreaterThan(0);

    const forged = JSON.stringify({
      action: "created",
      comment: { id: 1, body: "/help", user: { id: 5 }, created_at: new Date().toISOString() },
    });
    const before = gh.comments.length;
    const r = await rawPost(
      url,
      "/webhooks/github",
      { "x-github-event": "issue_comment", "x-hub-signature-256": hubSignature("guess", forged) },
      forged,
    );
    expect(r.status).toBe(401);
    await new Promise((res) => setTimeout(res, 300));
    expect(gh.comments.length).toBe(before);
    expect(w.logs.join("\n")).not.toContain(SECRET);
  });
});
