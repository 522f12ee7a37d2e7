/**
 * The Email approval round trip for `npm run bench` (#12): `emailDriver()` is an `ApprovalDriver`
 * (bench/approval-drivers.ts) for `measureDriver` (bench/approval.ts): the real Email channel
 * (imapflow IMAP IDLE in, nodemailer SMTP out) against a private Dovecot (IMAP + LMTP) and our
 * authenticated SMTP relay on 127.0.0.1 (test/fakes/). A held request's card is the mail the relay
 * carries to the owner; the gesture is the owner's mail client replying `approve` to the card's
 * plus-address Reply-To, in its thread, delivered to the bot's INBOX and pushed by IDLE. The channel
 * runs with its production IDLE delay (1 s), so a reply that lands before IDLE resumes waits for it,
 * as it would for real. Without Dovecot on this machine the driver throws `DriverSkipped` (reported as
 * skipped, not as a failure); with `CI` set, its absence is an error. No assertions: it reports.
 */
import { createEmailChannel } from "../bot/channels/email/index.js";
import { dovecotAvailable, startDovecot } from "../test/fakes/dovecot.js";
import { mailReader, type SeenMail, sendAs, startSmtpRelay } from "../test/fakes/smtp-relay.js";
import { type ApprovalDriver, DriverSkipped } from "./approval-drivers.js";

async function poll<T>(f: () => Promise<T | undefined>, what: string): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export async function emailDriver(): Promise<ApprovalDriver> {
  if (!dovecotAvailable()) throw new DriverSkipped("Dovecot is not installed (dovecot-imapd, dovecot-lmtpd)");
  const OWNER = "olive@mail.test";
  const BOT = "warden@mail.test";
  const dovecot = await startDovecot();
  const relay = await startSmtpRelay({
    password: dovecot.password,
    lmtp: { host: dovecot.host, port: dovecot.lmtpPort },
  }).catch(async (err: unknown) => {
    await dovecot.close();
    throw err;
  });
  const channel = createEmailChannel({
    settings: {
      imapUrl: `imap://${encodeURIComponent(BOT)}@127.0.0.1:${dovecot.imapPort}`,
      smtpUrl: `smtp://${encodeURIComponent(BOT)}@127.0.0.1:${relay.port}`,
      address: BOT,
      password: dovecot.password,
    },
    // One owner replying 30 times in a minute is the bench, not a flood: no answer is capped.
    maxAnswersPerHour: 10_000,
    log: () => undefined,
  });
  const reader = mailReader(relay);
  const seen = new Set<string>();
  /** A card mail to the owner (it asks for a reply and carries its Reply-To token) not seen before. */
  const nextCardMail = async (): Promise<SeenMail | undefined> =>
    (await reader.all()).find(
      (m) =>
        m.mailFrom === BOT &&
        m.to === OWNER &&
        m.replyTo !== undefined &&
        !m.inReplyTo &&
        !seen.has(m.messageId) &&
        m.text.includes('reply to this mail with "approve"'),
    );
  return {
    name: "Email (imapflow IDLE + nodemailer, Dovecot; reply `approve`)",
    channel,
    owner: { identity: `email:${OWNER}`, chat: channel.privateChat(OWNER) },
    async nextCard() {
      const card = await poll(nextCardMail, "an Email card");
      seen.add(card.messageId);
      return () =>
        void sendAs(relay, dovecot.password, {
          from: OWNER,
          to: card.replyTo ?? BOT,
          subject: `Re: ${card.subject}`,
          text: `approve\n\nOn Mon, Warden wrote:\n> ${card.text.split("\n")[0] ?? ""}`,
          inReplyTo: card.messageId,
          references: [...card.references, card.messageId],
        }).catch(() => undefined);
    },
    close: async () => {
      await relay.close();
      await dovecot.close();
    },
  };
}
