/**
 * `warden start` with Matrix switched on by its settings (MATRIX_HOMESERVER_URL, MATRIX_USER_ID,
 * MATRIX_ACCESS_TOKEN as cli/chat-settings.ts reads them) against our fake homeserver: the owner
 * claims Warden with `/start TOKEN` in a DM, after which an owner's room invite is joined and a
 * stranger's declined; the access token appears in no log line.
 */
import { afterEach, describe, expect, it } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import { type FakeHomeserver, startFakeHomeserver } from "../fakes/matrix-homeserver.js";
import { startTestWarden, type TestWardenOptions } from "./test-warden.js";

let hs: FakeHomeserver | undefined;
let w: Awaited<ReturnType<typeof startTestWarden>> | undefined;
afterEach(async () => {
  await w?.close();
  await hs?.close();
  [w, hs] = [undefined, undefined];
});

async function until<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("warden start: Matrix", () => {
  it("the owner claims by DM; owners' room invites are joined, strangers' declined; no token in the log", async () => {
    hs = await startFakeHomeserver();
    const server = hs;
    const { matrix } = chatSettings({
      MATRIX_HOMESERVER_URL: server.baseUrl,
      MATRIX_USER_ID: server.botId,
      MATRIX_ACCESS_TOKEN: server.token,
    });
    expect(matrix).toBeDefined();
    w = await startTestWarden("matrix", { matrix } as TestWardenOptions);
    const owner = server.mxid("olive");
    const dm = server.invite(owner, { isDirect: true });
    await until("the bot in the DM", () => (server.isJoined(dm, server.botId) ? true : undefined));
    server.join(dm, owner);
    server.text(dm, owner, `/start ${w.claimToken}`);
    const answer = await until("the claim answer", () => server.botTexts(dm)[0]);
    expect(answer).toContain("you are owner");
    const ownersRoom = server.invite(owner);
    await until("the owner's room joined", () =>
      server.isJoined(ownersRoom, server.botId) ? true : undefined,
    );
    const strangers = server.invite(server.mxid("eve"));
    await until("the stranger's invite declined", () =>
      w?.logs.some((l) => l.includes("matrix.invite_declined")) ? true : undefined,
    );
    expect(server.isJoined(strangers, server.botId)).toBe(false);
    expect(w.logs.join("\n")).not.toContain(server.token);
    expect(w.said.join("\n")).not.toContain(server.token);
  }, 90_000);
});
