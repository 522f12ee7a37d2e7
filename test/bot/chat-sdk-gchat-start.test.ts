/**
 * `warden start` with Google Chat switched on by its settings: the shared webhook listener says where
 * Google must call, a genuine signed DM reaches the bot (which answers /help in that DM, with a token
 * from the credentials' token_uri), a forged one is 401 without the bot seeing it, and neither the
 * service account's private key nor the access token appears in Warden's log.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type FakeGchat, startFakeGchat } from "../fakes/gchat-api.js";
import { type PlatformKeys, startPlatformKeys } from "../fakes/platform-jwt.js";
import { startTestWarden } from "./test-warden.js";

const PROJECT = "4242";
let keys: PlatformKeys | undefined;
let fake: FakeGchat | undefined;
let w: Awaited<ReturnType<typeof startTestWarden>> | undefined;
afterEach(async () => {
  await w?.close();
  await fake?.close();
  await keys?.close();
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

describe("warden start: Google Chat through the Chat SDK", () => {
  it("listens for webhooks, answers a signed DM, refuses a forged one, logs no key", async () => {
    keys = await startPlatformKeys();
    fake = await startFakeGchat({ projectNumber: PROJECT, keys });
    w = await startTestWarden("gchat", {
      chatSdk: {
        webhooks: { host: "127.0.0.1", port: 0 },
        gchat: {
          credentials: fake.credentials,
          projectNumber: PROJECT,
          endpointUrl: "https://warden.example.test/webhooks/gchat",
          apiUrl: fake.url,
          certsUrl: keys.certsUrl,
        },
      },
    });
    const line = await until("the webhook line", () =>
      w?.said.find((l) => l.startsWith("gchat: webhooks at ")),
    );
    const url = /(http:\/\/127\.0\.0\.1:\d+)\/webhooks\/gchat$/.exec(line)?.[1] ?? "";
    expect(url).not.toBe("");
    const dm = { name: "spaces/dm-777", type: "DM" as const };
    const stranger = { name: "users/777", displayName: "Stranger" };
    expect((await fake.deliver(url, fake.message(stranger, dm, "/help"))).status).toBe(200);
    const reply = await until("a reply", () => fake?.sent.find((s) => s.space === dm.name));
    expect(String(reply.body.text ?? "").length).toBeGreaterThan(0);

    const before = fake.sent.length;
    const forged = fake.message(stranger, dm, "/help");
    expect((await fake.deliver(url, forged, { foreign: true })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.sent.length).toBe(before);
    const logs = w.logs.join("\n");
    const key = (JSON.parse(fake.credentials) as { private_key: string }).private_key;
    expect(logs).not.toContain(key.split("\n")[1] ?? "unreachable");
    expect(logs).not.toContain("ya29.");
  });
});
