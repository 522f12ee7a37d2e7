/**
 * Email behind the `Channel` seam: IMAP IDLE in (imap-inbox.ts), SMTP out (smtp-outbox.ts). A
 * private chat is the correspondent's address (`email:<address>`, lower-cased); a thread is the
 * subject thread (the first References id). Mail cannot be edited: a decided card gets a follow-up
 * mail in its thread, and a late reply is answered by the bot, never counted twice.
 *
 * Threat model. Every header is forgeable, `From:` included, so `From:` alone never decides. A reply
 * whose first line is `approve` / `deny` / `grant` and that answers one of our mails is a tap; it
 * reaches the card only when it was addressed to that card's reply token (`<local>+<token>@…`, 128
 * random bits, reply-tokens.ts) AND names that card's Message-ID in In-Reply-To / References.
 * Anything less (no token, another card's token, a token with the wrong Message-ID) is handed to the
 * bot as a tap on no card: "This button is not valid.", nothing decided. The bot then still checks
 * that the sender is an approver. Auto-replies are ignored (inbound-mail.ts); answers to one address
 * are capped per hour so forged mail cannot turn the bot into a spam cannon. Logs carry event names
 * and codes, never mail text, addresses or the password.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { Address, Card, Channel, InboundEvent, SendTextOptions, SentRef } from "../../channel.js";
import { agentLabel, tidyAgentText } from "../agent-voice.js";
import type { StateRows } from "../../persisted-state.js";
import { oneLine, splitText } from "../text.js";
import {
  cardSubject,
  type MailBody,
  offeredVerbs,
  renderAgentText,
  renderCardMail,
  renderFollowUp,
  renderPlain,
  TEXT_LIMIT,
  verbOfLine,
} from "./card-mail.js";
import { botAddress, type EmailSettings, mailServer, passwordOf } from "./email-settings.js";
import { createImapInbox, type ImapInbox } from "./imap-inbox.js";
import { type InboundMail, parseInboundMail } from "./inbound-mail.js";
import { createReplyTokens, TOKEN } from "./reply-tokens.js";
import { createSmtpOutbox, type SmtpOutbox } from "./smtp-outbox.js";

export interface EmailChannelOptions {
  readonly settings: EmailSettings;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Where reply tokens outlive a restart (the bot store's state rows); absent: memory only. */
  readonly state?: StateRows;
  /** IMAP idle delay (tests: short). */
  readonly idleDelayMs?: number;
  /** Answers (tap replies, refusals) to one address per hour; default 30. */
  readonly maxAnswersPerHour?: number;
  readonly now?: () => number;
}

const Email = z.email().max(254);
type Mail = Extract<InboundMail, { kind: "mail" }>;

export function createEmailChannel(o: EmailChannelOptions): Channel {
  const log = o.log ?? (() => undefined);
  const now = o.now ?? Date.now;
  const me = botAddress(o.settings.address);
  const imap = mailServer(o.settings.imapUrl, "imap", me.address);
  const smtp = mailServer(o.settings.smtpUrl, "smtp", me.address);
  const tokens = createReplyTokens({ rows: o.state, now });
  const subjects = new Map<string, string>(); // thread root → subject
  // Card Message-ID → the status (and whether it offered verbs) its thread last showed: a follow-up
  // goes out only when that changes, so a redraw ("Expires in" ticking) sends no mail.
  const lastShown = new Map<string, string>();
  const answers = new Map<string, { n: number; since: number }>();
  let handler: ((e: InboundEvent) => Promise<void>) | undefined;
  let inbox: ImapInbox | undefined;
  let outbox: SmtpOutbox | undefined;

  const newId = (kind: "card" | "msg" | "note") =>
    `warden.${kind}.${randomBytes(12).toString("hex")}@${me.domain}`;
  const OURS = new RegExp(
    `^warden\\.(card|msg|note)\\.[0-9a-f]{24}@${me.domain.replace(/[.\\-]/g, "\\$&")}$`,
    "i",
  );
  const remember = <K, V>(m: Map<K, V>, k: K, v: V) => {
    m.delete(k);
    m.set(k, v);
    if (m.size > 5000) m.delete(m.keys().next().value as K);
  };

  function addressOf(to: Address): string {
    if (to.platform !== "email") throw new Error(`Email channel cannot send to ${to.platform}`);
    const a = Email.safeParse(to.chatId);
    if (!a.success) throw new Error("email: not an email address");
    return a.data.toLowerCase();
  }

  async function send(
    to: string,
    subject: string,
    body: MailBody,
    thread: Partial<{ inReplyTo: string; references: string[]; replyTo: string }> = {},
    messageId = newId("msg"),
  ): Promise<string> {
    if (!outbox) throw new Error("email channel is not started");
    await outbox.send({ to, subject: oneLine(subject, 200), ...body, messageId, ...thread });
    return messageId;
  }

  /** The plus-address of a card's token. */
  const replyAddress = (token: string) => `${me.local}+${token}@${me.domain}`;

  function tokenIn(mail: Mail): string | undefined {
    for (const r of mail.recipients) {
      const at = r.lastIndexOf("@");
      const [local, tag] = r.slice(0, at).split("+", 2);
      if (r.slice(at + 1) === me.domain && local === me.local && tag && TOKEN.test(tag)) return tag;
    }
    return undefined;
  }

  function mayAnswer(to: string): boolean {
    const max = o.maxAnswersPerHour ?? 30;
    const a = answers.get(to);
    if (!a || now() - a.since > 3_600_000) {
      remember(answers, to, { n: 1, since: now() });
      return true;
    }
    a.n++;
    return a.n <= max;
  }

  function dispatch(what: string, work: (h: (e: InboundEvent) => Promise<void>) => Promise<void>): void {
    const h = handler;
    if (!h) return;
    work(h).catch((err: unknown) => log("email.handler_error", { what, error: (err as Error).name }));
  }

  function tap(mail: Mail, verb: "approve" | "deny" | "grant"): void {
    dispatch("action", (h) => tapWith(h, mail, verb));
  }

  async function tapWith(
    h: (e: InboundEvent) => Promise<void>,
    mail: Mail,
    verb: "approve" | "deny" | "grant",
  ): Promise<void> {
    const token = tokenIn(mail);
    const bound = token ? await tokens.lookup(token) : undefined;
    const verified = !!bound && mail.replyTo.includes(bound.messageId);
    if (!verified)
      log("email.reply_unverified", {
        reason: !token ? "no_token" : !bound ? "unknown_token" : "other_card",
      });
    // Unverified: a tap on no card we sent, so the bot answers "not valid" and decides nothing.
    const ref: SentRef = verified
      ? { platform: "email", chatId: bound.chatId, messageId: bound.messageId }
      : { platform: "email", chatId: mail.from, messageId: `unverified:${mail.messageId}` };
    const reply = async (text: string): Promise<void> => {
      if (!mayAnswer(mail.from)) return log("email.answer_suppressed", {});
      await send(
        mail.from,
        `Re: ${mail.subject || "Warden"}`,
        renderPlain(text),
        {
          inReplyTo: mail.messageId,
          references: [...mail.replyTo.slice().reverse(), mail.messageId].slice(-20),
        },
        newId("note"),
      );
    };
    const from = { id: `email:${mail.from}`, name: oneLine(mail.name, 64) || mail.from };
    await h({
      kind: "action",
      from,
      chat: { platform: "email", chatId: ref.chatId },
      data: verb,
      ref,
      reply,
    });
  }

  async function onMail(raw: Buffer): Promise<void> {
    if (!handler) return;
    const mail = await parseInboundMail(raw);
    if (mail.kind === "ignored") return log("email.ignored", { reason: mail.reason });
    if (mail.from === me.address) return log("email.ignored", { reason: "own_mail" });
    const verb = verbOfLine(mail.text);
    if (verb && mail.replyTo.some((id) => OURS.test(id))) return tap(mail, verb);
    if (mail.text === "") return log("email.ignored", { reason: "empty" });
    remember(subjects, mail.threadRoot, mail.subject);
    const from = { id: `email:${mail.from}`, name: oneLine(mail.name, 64) || mail.from };
    const chat: Address = { platform: "email", chatId: mail.from, threadId: mail.threadRoot };
    const ref: SentRef = { platform: "email", chatId: mail.from, messageId: mail.messageId };
    const event = {
      kind: "message",
      from,
      chat,
      isPrivate: true,
      mentioned: true,
      text: mail.text,
      ref,
    } as const;
    dispatch("message", (h) => h(event));
  }

  async function sendText(to: Address, text: string, opts?: SendTextOptions): Promise<SentRef> {
    const addr = addressOf(to);
    const thread = to.threadId ? { inReplyTo: to.threadId, references: [to.threadId] } : {};
    const subject =
      to.threadId && subjects.has(to.threadId)
        ? `Re: ${subjects.get(to.threadId)}`.replace(/^Re: (Re: )+/i, "Re: ")
        : "Warden";
    const agent = opts?.agent;
    const parts =
      agent === undefined
        ? splitText(text, TEXT_LIMIT)
        : splitText(tidyAgentText(text), TEXT_LIMIT - agentLabel(agent).length - 200);
    let last: string | undefined;
    for (const part of parts)
      last = await send(
        addr,
        agent === undefined ? subject : `${subject} — ${agentLabel(agent)}`,
        agent === undefined ? renderPlain(part) : renderAgentText(agent, part),
        thread,
      );
    if (!last) throw new Error("email: refusing to send an empty message");
    return { platform: "email", chatId: addr, messageId: last };
  }

  return {
    platform: "email",
    // A reply names no count: a batch card mail never gains items once sent (bot/batch-drawer.ts).
    gesturesCarryNoCount: true,
    async start(onEvent) {
      if (handler) throw new Error("Email channel already started");
      const password = await passwordOf(o.settings);
      outbox = createSmtpOutbox({ server: smtp, password, from: me.address });
      inbox = createImapInbox({
        server: imap,
        password,
        onMail: (raw) => onMail(raw),
        log,
        idleDelayMs: o.idleDelayMs,
      });
      handler = onEvent;
      try {
        await inbox.start();
      } catch (err) {
        handler = undefined;
        const e = err as { code?: unknown; authenticationFailed?: unknown; name?: string };
        const code = e.authenticationFailed
          ? "AUTHENTICATIONFAILED"
          : typeof e.code === "string"
            ? e.code
            : (e.name ?? "Error");
        throw new Error(`email: IMAP connection failed (${code})`);
      }
      log("email.started", {});
    },
    async stop() {
      handler = undefined;
      await inbox?.stop();
      outbox?.close();
    },
    sendText,
    async sendCard(to, card) {
      const addr = addressOf(to);
      const token = tokens.mint();
      const subject = cardSubject(card);
      const id = newId("card");
      // Bound before it is sent: a reply can never arrive for a token we do not know yet.
      await tokens.bind(token, { messageId: id, chatId: addr, subject });
      remember(lastShown, id, `${offeredVerbs(card).join(",")}\n${oneLine(card.status, 300)}`);
      await send(addr, subject, renderCardMail(card), { replyTo: replyAddress(token) }, id);
      return { platform: "email", chatId: addr, messageId: id };
    },
    async updateCard(ref, card: Card) {
      const addr = addressOf(ref);
      const shown = `${offeredVerbs(card).join(",")}\n${oneLine(card.status, 300)}`;
      if (lastShown.get(ref.messageId) === shown) return;
      remember(lastShown, ref.messageId, shown);
      const body = renderFollowUp(card);
      const token = await tokens.tokenOf(ref.messageId);
      const subject = (await tokens.lookup(token ?? ""))?.subject ?? cardSubject(card);
      // While it is pending, a reply to the follow-up still decides (References names the card).
      const replyTo = token && offeredVerbs(card).length > 0 ? { replyTo: replyAddress(token) } : {};
      await send(addr, `Re: ${subject}`, body, {
        inReplyTo: ref.messageId,
        references: [ref.messageId],
        ...replyTo,
      });
    },
    privateChat(userId) {
      return { platform: "email", chatId: userId.trim().toLowerCase() };
    },
  };
}
