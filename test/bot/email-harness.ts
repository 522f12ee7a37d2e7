/**
 * The Email channel on a real mail system for tests: a private Dovecot (IMAP IDLE + LMTP) and an
 * authenticated SMTP relay delivering to it (test/fakes/). People are addresses at mail.test; what
 * they receive is read from the relay's record, what they send goes through the relay like any mail
 * client's (so a forged From: travels exactly as it would). Each harness gets its own bot mailbox.
 */
import type { Channel, SentRef } from "../../bot/channel.js";
import type { StateRows } from "../../bot/persisted-state.js";
import { createEmailChannel } from "../../bot/channels/email/index.js";
import type { ChannelHarness } from "../contracts/channel.contract.js";
import type { TapHarness } from "../contracts/approval-taps.contract.js";
import { type Dovecot, startDovecot } from "../fakes/dovecot.js";
import { mailReader, type SeenMail, sendAs, type SmtpRelay, startSmtpRelay } from "../fakes/smtp-relay.js";

export const DOMAIN = "mail.test";
export const userIdOf = (id: string): string => (id.includes("@") ? id : `u${id}@${DOMAIN}`);

export interface MailWorld {
  readonly dovecot: Dovecot;
  readonly relay: SmtpRelay;
  close(): Promise<void>;
}

export async function startMailWorld(): Promise<MailWorld> {
  const dovecot = await startDovecot();
  const relay = await startSmtpRelay({
    password: dovecot.password,
    lmtp: { host: dovecot.host, port: dovecot.lmtpPort },
  });
  return {
    dovecot,
    relay,
    async close() {
      await relay.close();
      await dovecot.close();
    },
  };
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let seq = 0;

const ENTITIES: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#39;": "'",
};
/** What a person reads of our HTML part: tags dropped, our five entities decoded. */
export const htmlText = (html: string): string =>
  html.replace(/<[^>]*>/g, "").replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e] ?? e);

/** A verb from button data (`a:<id>:approve`, `b:…:approve`) or a bare verb. */
const verbOf = (data: string): string => /(approve|deny|grant)$/.exec(data)?.[1] ?? data;

export interface EmailHarness extends ChannelHarness, TapHarness {
  readonly channel: Channel;
  readonly bot: string;
  readonly logs: { event: string; fields: Record<string, unknown> }[];
  /** Texts of the mails that followed `ref` in its thread. */
  followUps(ref: SentRef): Promise<string[]>;
  close(): Promise<void>;
  /** Mails the bot sent, parsed. */
  sent(): Promise<SeenMail[]>;
  mailOf(ref: SentRef): Promise<SeenMail>;
  /** Sends a mail as a person (any headers); returns its Message-ID. */
  send(mail: Parameters<typeof sendAs>[2]): Promise<string>;
  /** The bot's answers to the mail `messageId`, once at least one arrived. */
  answersTo(messageId: string): Promise<string[]>;
}

export function emailHarness(
  world: MailWorld,
  opts: { password?: string; bot?: string; state?: StateRows } = {},
): EmailHarness {
  const bot = opts.bot ?? `warden${++seq}@${DOMAIN}`;
  const logs: EmailHarness["logs"] = [];
  const { relay, dovecot } = world;
  const channel = createEmailChannel({
    settings: {
      imapUrl: `imap://${encodeURIComponent(bot)}@127.0.0.1:${dovecot.imapPort}`,
      smtpUrl: `smtp://${encodeURIComponent(bot)}@127.0.0.1:${relay.port}`,
      address: bot,
      password: opts.password ?? dovecot.password,
    },
    idleDelayMs: 50,
    ...(opts.state ? { state: opts.state } : {}),
    log: (event, fields) => void logs.push({ event, fields }),
  });
  const reader = mailReader(relay);
  const sent = async () => (await reader.all()).filter((m) => m.mailFrom === bot);
  const mailOf = (ref: SentRef) =>
    until(`mail ${ref.messageId}`, async () => (await sent()).find((m) => m.messageId === ref.messageId));
  const thread = async (ref: SentRef) => {
    const all = await sent();
    return all.filter((m) => m.messageId === ref.messageId || m.references.includes(ref.messageId));
  };
  const countVerbs = (text: string): number => {
    const ask = /To decide, reply to this mail with (.*?) on the first line\./.exec(text)?.[1] ?? "";
    return (ask.match(/"\w+"/g) ?? []).length + (/Reply "grant" for /.test(text) ? 1 : 0);
  };
  const send = (mail: Parameters<typeof sendAs>[2]) => sendAs(relay, dovecot.password, mail);
  const answersTo = (messageId: string) =>
    until(`the answer to ${messageId}`, async () => {
      const got = (await sent()).filter((m) => m.inReplyTo === messageId).map((m) => m.text.trim());
      return got.length > 0 ? got : undefined;
    });
  return {
    channel,
    bot,
    logs,
    maxTextLength: 20_000,
    noButtons: true,
    noEdits: true,
    gesturesCarryNoCount: true,
    userIdOf,
    groupChat: () => ({ platform: "email", chatId: `family@${DOMAIN}` }),
    sent,
    mailOf,
    send,
    answersTo,
    async injectPrivateText(userId, text) {
      await send({ from: userId, to: bot, subject: "hello", text });
    },
    async textsIn(chatId) {
      return (await sent()).filter((m) => m.to === chatId).map((m) => m.text);
    },
    async buttonsOn(ref) {
      const mails = await thread(ref);
      const last = mails[mails.length - 1];
      return last ? countVerbs(last.text) : 0;
    },
    /** As a mail client shows the HTML part (tags gone, entities decoded). */
    async shownOn(ref) {
      return { text: htmlText((await mailOf(ref)).html), buttons: [] };
    },
    async shownText(ref) {
      return (await thread(ref)).map((m) => m.text).join("\n\n");
    },
    async followUps(ref) {
      return (await thread(ref)).filter((m) => m.messageId !== ref.messageId).map((m) => m.text);
    },
    /** A reply from `userId`'s mail client: to the card's Reply-To, in its thread, verb first. */
    async tap(userId, ref, data) {
      const card = await mailOf(ref);
      const id = await send({
        from: userId,
        to: card.replyTo ?? bot,
        subject: `Re: ${card.subject}`,
        text: `${verbOf(data)}\n\nOn Mon, Warden wrote:\n> ${card.text.split("\n")[0] ?? ""}`,
        inReplyTo: card.messageId,
        references: [...card.references, card.messageId],
      });
      return answersTo(id);
    },
    async close() {
      await channel.stop().catch(() => undefined);
    },
  };
}
