/**
 * `warden doctor` for X and iMessage against the fakes on 127.0.0.1: a right key set or password is
 * ok (the bot's @name, the server version); a wrong one fails with a code and a fix; no secret (key,
 * token, password) ever appears in what doctor prints.
 */
import { afterEach, describe, expect, it } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import { checkPlatforms } from "../../cli/doctor-platforms.js";
import { type FakeBlueBubbles, startFakeBlueBubbles } from "../fakes/bluebubbles.js";
import { type FakeX, startFakeX, X_BOT } from "../fakes/x-api.js";

const KEYS = {
  appKey: "doctor-consumer-key",
  appSecret: "doctor-consumer-SECRET-1",
  accessToken: `${X_BOT.id}-doctor-token`,
  accessSecret: "doctor-access-SECRET-2",
};
const PASSWORD = "doctor-bb-SECRET-3";

describe("warden doctor: X and iMessage", () => {
  let fx: FakeX | undefined;
  let bb: FakeBlueBubbles | undefined;
  afterEach(async () => {
    await fx?.close();
    await bb?.close();
  });

  const env = (o: { accessSecret?: string; password?: string } = {}) => ({
    X_API_KEY: KEYS.appKey,
    X_API_SECRET: KEYS.appSecret,
    X_ACCESS_TOKEN: KEYS.accessToken,
    X_ACCESS_SECRET: o.accessSecret ?? KEYS.accessSecret,
    X_API_URL: fx?.url,
    IMESSAGE_BLUEBUBBLES_URL: bb?.url,
    IMESSAGE_BLUEBUBBLES_PASSWORD: o.password ?? PASSWORD,
  });

  it("ok with the right keys and password; fails with a code, never a secret, with wrong ones", async () => {
    fx = await startFakeX(KEYS);
    bb = await startFakeBlueBubbles(PASSWORD);
    const ok = await checkPlatforms(chatSettings(env()), { home: "/nonexistent" });
    expect(ok).toEqual([
      { status: "ok", item: "x", message: `signed in as @${X_BOT.username} (x:${X_BOT.id})` },
      { status: "ok", item: "imessage", message: "BlueBubbles server 1.9.9 answered" },
    ]);
    const bad = await checkPlatforms(
      chatSettings(env({ accessSecret: "wrong-SECRET-a", password: "wrong-SECRET-b" })),
      {
        home: "/nonexistent",
      },
    );
    expect(bad.map((c) => [c.item, c.status, c.message])).toEqual([
      ["x", "fail", "GET /2/users/me failed: x_unauthorized (HTTP 401)"],
      ["imessage", "fail", "BlueBubbles server/info failed: bb_unauthorized (HTTP 401)"],
    ]);
    const printed = JSON.stringify([ok, bad]);
    for (const s of [KEYS.appSecret, KEYS.accessSecret, KEYS.accessToken, PASSWORD, "wrong-SECRET"])
      expect(printed).not.toContain(s);
  });

  it("iMessage without the password in the environment: a warning that the Warden secret is read at start", async () => {
    const checks = await checkPlatforms(chatSettings({ IMESSAGE_BLUEBUBBLES_URL: "http://127.0.0.1:9" }), {
      home: "/nonexistent",
    });
    expect(checks).toEqual([expect.objectContaining({ status: "warn", item: "imessage" })]);
  });
});
