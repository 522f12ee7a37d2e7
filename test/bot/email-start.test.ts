/**
 * `warden start` with Email switched on by its settings (EMAIL_IMAP_URL, EMAIL_SMTP_URL,
 * EMAIL_ADDRESS, EMAIL_PASSWORD as cli/chat-settings.ts reads them) against a real Dovecot and SMTP
 * relay: a mail to the bot is answered by mail in its thread, the owner claims Warden by mailing
 * `/start TOKEN`, and the password appears in no log line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import { dovecotAvailable } from "../fakes/dovecot.js";
import { mailReader, sendAs } from "../fakes/smtp-relay.js";
import { type MailWorld, startMailWorld } from "./email-harness.js";
import { startTestWarden, type TestWardenOptions } from "./test-warden.js";

const HAVE = dovecotAvailable();
let world: MailWorld;
beforeAll(async () => {
  if (HAVE) world = await startMailWorld();
});
afterAll(async () => {
  await world?.close();
});

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!HAVE)("warden start: Email", () => {
  it("answers mail in its thread, lets the owner claim by mail, logs no password", async () => {
    const BOT = "bot@mail.test";
    const OWNER = "owner@mail.test";
    const { email } = chatSettings({
      EMAIL_IMAP_URL: `imap://bot%40mail.test@127.0.0.1:${world.dovecot.imapPort}`,
      EMAIL_SMTP_URL: `smtp://bot%40mail.test@127.0.0.1:${world.relay.port}`,
      EMAIL_ADDRESS: BOT,
      EMAIL_PASSWORD: world.dovecot.password,
    });
    expect(email).toBeDefined();
    const w = await startTestWarden("email", { email } as TestWardenOptions);
    try {
      const mail = mailReader(world.relay);
      const fromBot = async () => (await mail.all()).filter((m) => m.mailFrom === BOT);
      const help = await sendAs(world.relay, world.dovecot.password, {
        from: OWNER,
        to: BOT,
        subject: "hello",
        text: "/help",
      });
      const answer = await until("the answer", async () =>
        (await fromBot()).find((m) => m.inReplyTo === help),
      );
      expect(answer.to).toBe(OWNER);
      expect(answer.subject).toBe("Re: hello");
      expect(answer.text.length).toBeGreaterThan(0);

      await sendAs(world.relay, world.dovecot.password, {
        from: OWNER,
        to: BOT,
        subject: "claim",
        text: `/start ${w.claimToken}`,
      });
      await until("the owner", async () =>
        (await w.bot.roles.hasRole(`email:${OWNER}`, "owner")) ? true : undefined,
      );
      expect(w.logs.join("\n")).not.toContain(world.dovecot.password);
      expect(w.said.join("\n")).not.toContain(world.dovecot.password);
    } finally {
      await w.close();
    }
  });
});
