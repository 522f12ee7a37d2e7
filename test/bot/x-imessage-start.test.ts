/**
 * `warden start` with X and iMessage switched on by their settings: the webhook listener comes up
 * for iMessage, the BlueBubbles webhook URL (with its token) is printed once, a stranger's DM on X
 * (polled) and a stranger's iMessage (webhook, read back) are each answered politely in their own
 * chat, a forged iMessage event is refused, and no key, token or password reaches the log.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type FakeBlueBubbles, startFakeBlueBubbles } from "../fakes/bluebubbles.js";
import { type FakeX, startFakeX, X_BOT } from "../fakes/x-api.js";
import { startTestWarden } from "./test-warden.js";

const KEYS = {
  appKey: "start-consumer-key",
  appSecret: "start-consumer-SECRET-1",
  accessToken: `${X_BOT.id}-start-token-SECRET`,
  accessSecret: "start-access-SECRET-2",
};
const PASSWORD = "start-bb-SECRET-3";

let fx: FakeX | undefined;
let bb: FakeBlueBubbles | undefined;
let w: Awaited<ReturnType<typeof startTestWarden>> | undefined;
afterEach(async () => {
  await w?.close();
  await fx?.close();
  await bb?.close();
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

describe("warden start: X and iMessage", () => {
  it("answers strangers on both, prints the BlueBubbles webhook once, refuses a forged event, logs no secret", {
    timeout: 120_000,
  }, async () => {
    fx = await startFakeX(KEYS);
    bb = await startFakeBlueBubbles(PASSWORD);
    w = await startTestWarden("xim", {
      chatSdk: { webhooks: { host: "127.0.0.1", port: 0 } },
      x: { ...KEYS, apiUrl: fx.url, pollMs: 100 },
      imessage: { url: bb.url, password: PASSWORD },
    });
    expect(w.said).toContain("x: DMs polled (set WARDEN_PUBLIC_URL for the Account Activity webhook)");
    const line = await until("the BlueBubbles line", () =>
      w?.said.find((l) => l.startsWith("imessage: in BlueBubbles")),
    );
    const hook = /(http:\/\/127\.0\.0\.1:\d+\/webhooks\/imessage\/[A-Za-z0-9_-]{43})/.exec(line)?.[1] ?? "";
    expect(hook).not.toBe("");

    fx.dm("777", "/help");
    await until("the X answer", () => (fx?.textsIn("777").length ? true : undefined));
    expect((await bb.text(hook, "+15550000777", "/help")).status).toBe(200);
    await until("the iMessage answer", () =>
      bb?.textsIn("iMessage;-;+15550000777").length ? true : undefined,
    );

    const forged = JSON.stringify({
      type: "new-message",
      data: { guid: "NOPE", text: "/help", isFromMe: false },
    });
    expect((await bb.post(hook, forged)).status).toBe(401);
    const logs = w.logs.join("\n");
    for (const s of [
      KEYS.appSecret,
      KEYS.accessSecret,
      KEYS.accessToken,
      PASSWORD,
      hook.split("/").pop() ?? "-",
    ])
      expect(logs).not.toContain(s);
  });
});
