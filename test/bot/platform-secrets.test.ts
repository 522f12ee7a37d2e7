/**
 * The bot's own platform credentials kept as Warden secrets (README: "or the Warden secret of that
 * name"): `warden start` reads MATRIX_ACCESS_TOKEN from the vault when it is not in the environment,
 * and only the names in PLATFORM_SECRETS can ever be read that way (an agent's API key cannot).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import { PLATFORM_SECRETS, revealPlatformSecret } from "../../gateway/index.js";
import { Secret } from "../../gateway/secret.js";
import { type FakeHomeserver, startFakeHomeserver } from "../fakes/matrix-homeserver.js";
import { pollUntil } from "../fakes/poll-until.js";
import { startTestWarden, type TestWardenOptions } from "./test-warden.js";

describe("revealPlatformSecret", () => {
  const lookup = (n: string) => new Secret(`value-of-${n}`);
  it("reveals the platform credentials it names", () => {
    for (const n of PLATFORM_SECRETS) expect(revealPlatformSecret(n, lookup)).toBe(`value-of-${n}`);
  });
  it("never reveals any other secret, whatever the name", () => {
    for (const n of ["DEMO_API_KEY", "OPENAI_API_KEY", "email_password", "EMAIL_PASSWORD ", ""])
      expect(revealPlatformSecret(n, lookup)).toBeUndefined();
  });
  it("answers undefined when the secret was never set", () => {
    expect(revealPlatformSecret("EMAIL_PASSWORD", () => undefined)).toBeUndefined();
  });
});

let hs: FakeHomeserver | undefined;
let home: string | undefined;
afterEach(async () => {
  await hs?.close();
  if (home) await rm(home, { recursive: true, force: true });
  [hs, home] = [undefined, undefined];
});

describe("warden start: a platform credential from the vault", () => {
  it("Matrix runs on MATRIX_ACCESS_TOKEN set as a Warden secret, and the token is in no log", async () => {
    hs = await startFakeHomeserver();
    const server = hs;
    home = await mkdtemp(join(tmpdir(), "wdn-platform-secret-"));
    // First run: the owner stores the token as a secret (as `/secret set` or `warden secret set` do).
    const first = await startTestWarden("platform-secret", { home });
    await first.gateway.credentials.setSecret("MATRIX_ACCESS_TOKEN", server.token);
    await first.close();
    // Second run: Matrix switched on without the token in the environment.
    const { matrix } = chatSettings({
      MATRIX_HOMESERVER_URL: server.baseUrl,
      MATRIX_USER_ID: server.botId,
    });
    expect(matrix?.accessToken).toBeUndefined();
    const w = await startTestWarden("platform-secret", { home, matrix } as TestWardenOptions & {
      home: string;
    });
    try {
      const owner = server.mxid("olive");
      const dm = server.invite(owner, { isDirect: true });
      await pollUntil(
        "the bot in the DM",
        () => (server.isJoined(dm, server.botId) ? true : undefined),
        20_000,
      );
      server.join(dm, owner);
      server.text(dm, owner, `/start ${w.claimToken}`);
      const answer = await pollUntil("the claim answer", () => server.botTexts(dm)[0], 20_000);
      expect(answer).toContain("you are owner");
      expect(`${w.logs.join("\n")}\n${w.said.join("\n")}`).not.toContain(server.token);
    } finally {
      await w.close();
    }
  }, 120_000);
});
