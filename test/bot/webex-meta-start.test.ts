/**
 * Webex, Messenger and Instagram wired into `warden start` and `warden doctor` by their settings
 * alone (env names through chatSettings): the shared webhook listener comes up with no Chat SDK
 * platform, Webex webhooks are registered at WARDEN_PUBLIC_URL, a stranger's DM on each platform is
 * answered, a forged delivery is refused unseen; doctor accepts the right tokens and fails wrong
 * ones with a status; no token or secret reaches the log or doctor's output.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import { checkPlatforms } from "../../cli/doctor-platforms.js";
import { type FakeMetaGraph, startFakeMetaGraph } from "../fakes/meta-graph-api.js";
import { pollUntil } from "../fakes/poll-until.js";
import { type FakeWebex, startFakeWebex } from "../fakes/webex-api.js";
import { startTestWarden, type TestWardenOptions } from "./test-warden.js";

const WEBEX_SECRET = "webex-start-SECRET-1";
const APP_SECRET = "meta-start-SECRET-2";
const VERIFY = "meta-start-VERIFY-3";

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

let webex: FakeWebex | undefined;
let messenger: FakeMetaGraph | undefined;
let w: Awaited<ReturnType<typeof startTestWarden>> | undefined;
afterEach(async () => {
  await w?.close();
  await webex?.close();
  await messenger?.close();
  [w, webex, messenger] = [undefined, undefined, undefined];
});

const env = (o: { webexToken?: string; pageToken?: string; port?: number } = {}): NodeJS.ProcessEnv => ({
  WEBEX_BOT_TOKEN: o.webexToken ?? webex?.token,
  WEBEX_WEBHOOK_SECRET: WEBEX_SECRET,
  WEBEX_API_URL: webex?.url,
  MESSENGER_PAGE_TOKEN: o.pageToken ?? messenger?.token,
  MESSENGER_APP_SECRET: APP_SECRET,
  MESSENGER_VERIFY_TOKEN: VERIFY,
  MESSENGER_API_URL: messenger?.url,
  ...(o.port
    ? { WARDEN_WEBHOOKS: `127.0.0.1:${o.port}`, WARDEN_PUBLIC_URL: `http://127.0.0.1:${o.port}` }
    : {}),
});

describe("warden start and doctor: Webex, Messenger", () => {
  it("settings alone switch them on; DMs are answered; forgeries are refused; no secret is logged", async () => {
    webex = await startFakeWebex();
    messenger = await startFakeMetaGraph({ platform: "messenger", appSecret: APP_SECRET });
    const port = await freePort();
    const s = chatSettings(env({ port }));
    w = await startTestWarden("webex-meta", {
      webex: s.webex,
      messenger: s.messenger,
      chatSdk: s.chatSdk,
    } as TestWardenOptions);
    const base = `http://127.0.0.1:${port}`;
    expect(w.said).toContain(`webex: webhooks at ${base}/webhooks/webex (registered with Webex on start)`);
    expect(w.said.some((l) => l.startsWith(`messenger: webhooks at ${base}/webhooks/messenger`))).toBe(true);
    expect(webex.webhooks.map((h) => h.targetUrl)).toEqual([
      `${base}/webhooks/webex`,
      `${base}/webhooks/webex`,
    ]);

    await webex.say("stranger-1", "/help");
    const room = webex.directRoom("stranger-1");
    await pollUntil("the Webex answer", () => (webex?.inRoom(room).length ? true : undefined), 20_000);

    const d = await messenger.text(base, "4242", "/help");
    expect(d.answer.status).toBe(200);
    await pollUntil(
      "the Messenger answer",
      () => (messenger?.sent.some((m) => m.to === "4242") ? true : undefined),
      20_000,
    );

    const before = messenger.sent.length;
    expect((await messenger.text(base, "4243", "/help", { secret: "guess" })).answer.status).toBe(401);
    const [forged] = await webex.deliver(
      "messages",
      { id: "msg-x", roomId: room, personId: "stranger-1" },
      { secret: "guess" },
    );
    expect(forged?.answer.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(messenger.sent.length).toBe(before);
    const logged = w.logs.join("\n");
    for (const secret of [webex.token, WEBEX_SECRET, messenger.token, APP_SECRET, VERIFY])
      expect(logged).not.toContain(secret);
  });

  it("doctor: right tokens are ok, wrong ones fail with a status; nothing secret is printed", async () => {
    webex = await startFakeWebex();
    messenger = await startFakeMetaGraph({ platform: "messenger", appSecret: APP_SECRET });
    const ok = await checkPlatforms(chatSettings(env()), { home: "/nonexistent" });
    expect(ok.filter((c) => c.item === "webex" || c.item === "messenger")).toEqual([
      { status: "ok", item: "webex", message: "token accepted (Warden)" },
      { status: "ok", item: "messenger", message: "token accepted (Warden)" },
    ]);
    const bad = await checkPlatforms(
      chatSettings(env({ webexToken: "wrong-SECRET-a", pageToken: "wrong-SECRET-b" })),
      {
        home: "/nonexistent",
      },
    );
    expect(
      bad
        .filter((c) => c.item === "webex" || c.item === "messenger")
        .map((c) => [c.item, c.status, c.message]),
    ).toEqual([
      ["webex", "fail", "the token in WEBEX_BOT_TOKEN was refused: HTTP 401"],
      ["messenger", "fail", "the token in MESSENGER_PAGE_TOKEN was refused: HTTP 401 (code 190)"],
    ]);
    const printed = JSON.stringify([ok, bad]);
    for (const s of [webex.token, messenger.token, WEBEX_SECRET, APP_SECRET, VERIFY, "wrong-SECRET"])
      expect(printed).not.toContain(s);
  });
});
