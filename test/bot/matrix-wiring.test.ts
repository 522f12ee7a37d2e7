/**
 * Matrix as `warden start` and `warden doctor` see it: the settings read from the environment, the
 * channel built with the token from the environment or else the Warden secret, room invites joined
 * only from owners and admins, and the doctor's whoami check against our fake homeserver (token
 * accepted, refused, another account's), never printing the token.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import { checkPlatforms } from "../../cli/doctor-platforms.js";
import { matrixChannels } from "../../cli/matrix-channels.js";
import { type FakeHomeserver, startFakeHomeserver } from "../fakes/matrix-homeserver.js";

let hs: FakeHomeserver | undefined;
afterEach(async () => {
  await hs?.close();
  hs = undefined;
});

const env = (server: FakeHomeserver, extra: Record<string, string | undefined> = {}) => ({
  MATRIX_HOMESERVER_URL: server.baseUrl,
  MATRIX_USER_ID: server.botId,
  MATRIX_ACCESS_TOKEN: server.token,
  ...extra,
});

describe("Matrix settings", () => {
  it("on with the homeserver and user id; the token from the environment or else the Warden secret", async () => {
    hs = await startFakeHomeserver();
    expect(chatSettings({ MATRIX_HOMESERVER_URL: "https://m.example" }).matrix).toBeUndefined();
    expect(chatSettings(env(hs)).matrix).toEqual({
      homeserverUrl: hs.baseUrl,
      userId: hs.botId,
      accessToken: hs.token,
    });
    const s = chatSettings(env(hs, { MATRIX_ACCESS_TOKEN: "" }));
    expect(s.matrix?.accessToken).toBeUndefined();
    const asked: string[] = [];
    const token = hs.token;
    const [channel] = matrixChannels(s, {
      log: () => undefined,
      isCard: () => false,
      secret: (name) => {
        asked.push(name);
        return token;
      },
      roleOf: async (id) => (id === `matrix:${hs?.mxid("owner")}` ? "owner" : undefined),
    });
    if (!channel) throw new Error("no channel");
    await channel.start(async () => undefined);
    try {
      expect(asked).toEqual(["MATRIX_ACCESS_TOKEN"]);
      const stranger = hs.invite(hs.mxid("eve"));
      const owner = hs.invite(hs.mxid("owner"));
      await vi.waitFor(() => expect(hs?.isJoined(owner, hs.botId)).toBe(true));
      expect(hs.isJoined(stranger, hs.botId)).toBe(false);
    } finally {
      await channel.stop();
    }
  });

  it("without a token anywhere, start says where to put one", async () => {
    hs = await startFakeHomeserver();
    const [channel] = matrixChannels(chatSettings(env(hs, { MATRIX_ACCESS_TOKEN: undefined })), {
      log: () => undefined,
      isCard: () => false,
    });
    await expect(channel?.start(async () => undefined)).rejects.toThrow(/set MATRIX_ACCESS_TOKEN/);
  });
});

describe("warden doctor: matrix", () => {
  it("whoami accepted, refused (M_UNKNOWN_TOKEN) or another account's; a secret-held token warns; the token is never printed", async () => {
    hs = await startFakeHomeserver();
    const server = hs;
    const run = async (extra: Record<string, string | undefined>) =>
      (await checkPlatforms(chatSettings(env(server, extra)), { home: "/nonexistent" })).filter(
        (c) => c.item === "matrix",
      );
    expect(await run({})).toEqual([
      { status: "ok", item: "matrix", message: `token accepted (${server.botId})` },
    ]);
    const wrong = "syt_d2FyZGVu_wrongToken0123456789";
    const refused = await run({ MATRIX_ACCESS_TOKEN: wrong });
    expect(refused[0]).toMatchObject({ status: "fail", message: expect.stringContaining("M_UNKNOWN_TOKEN") });
    const other = await run({ MATRIX_USER_ID: "@other:hs.test" });
    expect(other[0]).toMatchObject({
      status: "fail",
      message: expect.stringContaining("not MATRIX_USER_ID"),
    });
    expect(await run({ MATRIX_ACCESS_TOKEN: "" })).toMatchObject([{ status: "warn" }]);
    expect(JSON.stringify([refused, other])).not.toContain(wrong);
    expect(JSON.stringify([refused, other])).not.toContain(server.token);
    await server.close();
    hs = undefined;
    expect(await run({})).toMatchObject([
      { status: "fail", message: expect.stringContaining("cannot reach") },
    ]);
  });
});
