/**
 * The Email channel through imapflow, nodemailer and mailparser against a real Dovecot (IMAP IDLE,
 * LMTP) and an authenticated SMTP relay: both contract suites, then the attacks only mail has — a
 * forged From: without the card's token, another card's token, the right token on the wrong
 * Message-ID, an auto-reply, a bounce (empty return path) — and an HTML-only reply that does decide.
 * With CI set and Dovecot missing this fails (dovecotAvailable throws) instead of skipping.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createBotStore } from "../../bot/bot-store.js";
import { actionData } from "../../bot/cards.js";
import type { InboundEvent } from "../../bot/channel.js";
import { checkEmail } from "../../bot/channels/email/index.js";
import { openDatabase } from "../../gateway/index.js";
import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { channelContract } from "../contracts/channel.contract.js";
import { dovecotAvailable } from "../fakes/dovecot.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";
import {
  type EmailHarness,
  emailHarness,
  type MailWorld,
  startMailWorld,
  userIdOf,
} from "./email-harness.js";

const HAVE = dovecotAvailable();
let world: MailWorld;
beforeAll(async () => {
  if (HAVE) world = await startMailWorld();
});
afterAll(async () => {
  await world?.close();
});

describe.skipIf(!HAVE)("Email channel (real Dovecot + SMTP relay)", () => {
  channelContract("email", async () => emailHarness(world));
  approvalTapsContract("email", async () => emailHarness(world));

  describe("replies that must not decide", () => {
    let h: EmailHarness;
    let w: BotWorld;
    const ANN = userIdOf("701");
    const EVE = userIdOf("666");

    async function setUp() {
      h = emailHarness(world);
      w = createBotWorld({ channels: [h.channel] });
      await w.bot.start();
      await w.store.createPerson(`email:${ANN}`, "Ann", "approver");
      const held = await w.hold();
      const ref = await until(
        async () => (await w.store.cardRefs(held.view.id)).find((c) => c.to.chatId === ANN)?.ref,
      );
      return { ...held, ref, card: await h.mailOf(ref) };
    }
    afterEach(async () => {
      await w?.bot.stop();
      await h?.close?.();
    });

    it("the card mail: our Message-ID, a 128-bit plus-address Reply-To, Auto-Submitted, HTML escaped", async () => {
      const { card } = await setUp();
      expect(card.messageId).toMatch(/^warden\.card\.[0-9a-f]{24}@mail\.test$/);
      expect(card.replyTo).toMatch(new RegExp(`^${h.bot.split("@")[0]}\\+[0-9a-f]{32}@mail\\.test$`));
      expect(card.autoSubmitted).toBe("auto-generated");
      expect(card.text).toContain(
        'To decide, reply to this mail with "approve" or "deny" on the first line.',
      );
      expect(card.html).toContain("<pre");
      expect(card.html).not.toMatch(/<(script|img|a href="(?!http:\/\/))/i);
    });

    it("a forged From: reply without the token (to the bot's plain address) decides nothing", async () => {
      const { view, card } = await setUp();
      const id = await h.send({
        from: ANN,
        to: h.bot,
        subject: `Re: ${card.subject}`,
        text: "approve",
        inReplyTo: card.messageId,
        references: [card.messageId],
        login: EVE, // Eve's own mailbox login: the relay does not tie From: to it, as many do not
      });
      expect(await h.answersTo(id)).toEqual(["This button is not valid."]);
      expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
      expect(h.logs).toContainEqual({ event: "email.reply_unverified", fields: { reason: "no_token" } });
    });

    it("another card's token on a reply to this card decides nothing", async () => {
      const { view, card } = await setUp();
      // Eve's own card (she is a stranger: a card to her address, e.g. a group she is in).
      const other = await h.channel.sendCard(h.channel.privateChat(EVE), {
        title: "x",
        lines: [],
        agentSays: null,
        status: "s",
        buttons: [{ label: "Approve", data: actionData(view.id, "approve") }],
      });
      const eveCard = await h.mailOf(other);
      const id = await h.send({
        from: ANN,
        to: eveCard.replyTo as string,
        subject: `Re: ${card.subject}`,
        text: "approve",
        inReplyTo: card.messageId,
        references: [card.messageId],
        login: EVE,
      });
      expect(await h.answersTo(id)).toEqual(["This button is not valid."]);
      expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
      expect(h.logs).toContainEqual({ event: "email.reply_unverified", fields: { reason: "other_card" } });
    });

    it("the right token on a reply to the wrong Message-ID decides nothing", async () => {
      const { view, card } = await setUp();
      const note = await h.channel.sendText(h.channel.privateChat(ANN), "just text");
      const id = await h.send({
        from: ANN,
        to: card.replyTo as string,
        subject: "Re: something",
        text: "approve",
        inReplyTo: note.messageId,
      });
      expect(await h.answersTo(id)).toEqual(["This button is not valid."]);
      expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    });

    it("an auto-reply or a bounce quoting the card, token and all, is ignored", async () => {
      const { view, card } = await setUp();
      const reply = { from: ANN, to: card.replyTo as string, text: "approve", inReplyTo: card.messageId };
      await h.send({ ...reply, headers: { "Auto-Submitted": "auto-replied" } });
      await h.send({ ...reply, headers: { Precedence: "bulk" } });
      await h.send({ ...reply, headers: { "X-Autoreply": "yes" } });
      await h.send({ ...reply, envelopeFrom: "" }); // Return-Path: <>
      await until(() => (h.logs.filter((l) => l.event === "email.ignored").length >= 4 ? true : undefined));
      await settle();
      expect(h.logs.filter((l) => l.event === "email.ignored").map((l) => l.fields.reason)).toEqual([
        "auto_submitted",
        "bulk_precedence",
        "auto_reply_header",
        "null_return_path",
      ]);
      expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
      expect((await h.sent()).filter((m) => m.to === ANN)).toHaveLength(1); // the card only
    });

    it("an HTML-only reply with the token, quoting the card, approves", async () => {
      const { outcome, card } = await setUp();
      const id = await h.send({
        from: ANN,
        to: card.replyTo as string,
        subject: `Re: ${card.subject}`,
        // As webmail quotes it: the card's body content inside a blockquote.
        html: `<div dir="ltr">Approve<br></div><blockquote>${/<body>([\s\S]*)<\/body>/.exec(card.html)?.[1]}</blockquote>`,
        inReplyTo: card.messageId,
        references: [card.messageId],
      });
      expect(await h.answersTo(id)).toEqual(["Approved."]);
      await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    });

    it("a command by mail reaches the bot as a private message in the subject thread; the password is never logged", async () => {
      h = emailHarness(world);
      const events: unknown[] = [];
      await h.channel.start(async (e) => void events.push(e));
      await h.send({ from: ANN, to: h.bot, subject: "Hi", text: "/help\n\n-- \nAnn's phone" });
      const e = (await until(() => events[0])) as Record<string, unknown>;
      expect(e).toMatchObject({
        kind: "message",
        text: "/help",
        isPrivate: true,
        from: { id: `email:${ANN}` },
      });
      expect(JSON.stringify(h.logs)).not.toContain(world.dovecot.password);
    });
  });

  it("a reply to a card sent before a restart still decides (tokens kept in the bot store's rows)", async () => {
    const rows = createBotStore(openDatabase(":memory:"));
    const before = emailHarness(world, { state: rows });
    await before.channel.start(async () => undefined);
    const ANN = userIdOf("701");
    const ref = await before.channel.sendCard(before.channel.privateChat(ANN), {
      title: "t",
      lines: [],
      agentSays: null,
      status: "Waiting",
      buttons: [{ label: "Approve", data: "a:00000000-0000-4000-8000-000000000001:approve" }],
    });
    const card = await before.mailOf(ref);
    await before.channel.stop();
    const after = emailHarness(world, { state: rows, bot: before.bot });
    const events: InboundEvent[] = [];
    await after.channel.start(async (e) => void events.push(e));
    try {
      await after.send({
        from: ANN,
        to: card.replyTo as string,
        subject: `Re: ${card.subject}`,
        text: "approve",
        inReplyTo: card.messageId,
        references: [card.messageId],
      });
      const e = await until(() => events.find((x) => x.kind === "action"));
      expect(e).toMatchObject({ kind: "action", data: "approve", ref, from: { id: `email:${ANN}` } });
    } finally {
      await after.channel.stop();
    }
  });

  it("a redraw that changes no status sends no mail; a new status or the decision follows in the thread", async () => {
    const h = emailHarness(world);
    await h.channel.start(async () => undefined);
    try {
      const to = h.channel.privateChat(userIdOf("701"));
      const card = {
        title: "t",
        lines: [{ label: "Expires in", value: "5 min" }],
        agentSays: null,
        status: "Waiting: 0 of 2",
        buttons: [{ label: "Approve", data: "a:00000000-0000-4000-8000-000000000002:approve" }],
      };
      const ref = await h.channel.sendCard(to, card);
      await h.channel.updateCard(ref, { ...card, lines: [{ label: "Expires in", value: "4 min" }] });
      await h.channel.updateCard(ref, { ...card, status: "Waiting: 1 of 2" });
      await h.channel.updateCard(ref, { ...card, status: "Approved by Ann", buttons: [] });
      await h.channel.updateCard(ref, { ...card, status: "Approved by Ann", buttons: [] });
      const follow = await until(async () => {
        const f = await h.followUps(ref);
        return f.length >= 2 ? f : undefined;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect((await h.followUps(ref)).length).toBe(2);
      expect(follow[0]).toMatch(/^Update: Waiting: 1 of 2\./);
      expect(follow[1]).toMatch(/^Decided: Approved by Ann\. Replies to this card no longer count\./);
    } finally {
      await h.channel.stop();
    }
  });

  it("a dropped IMAP connection reconnects and mail that came meanwhile still arrives", async () => {
    const h = emailHarness(world);
    const events: InboundEvent[] = [];
    await h.channel.start(async (e) => void events.push(e));
    try {
      await world.dovecot.kick(h.bot);
      await until(() => h.logs.find((l) => l.event === "email.imap_closed"));
      await h.send({ from: userIdOf("701"), to: h.bot, subject: "after", text: "still there?" });
      const e = await until(() => events.find((x) => x.kind === "message"), 20_000);
      expect(e).toMatchObject({ kind: "message", text: "still there?" });
    } finally {
      await h.channel.stop();
    }
  });

  it("warden doctor's check: IMAP and SMTP logins; a wrong password fails with a code, never printed", async () => {
    const settings = (password: string) => ({
      imapUrl: `imap://doctor%40mail.test@127.0.0.1:${world.dovecot.imapPort}`,
      smtpUrl: `smtp://doctor%40mail.test@127.0.0.1:${world.relay.port}`,
      address: "doctor@mail.test",
      password,
    });
    expect(await checkEmail(settings(world.dovecot.password))).toEqual([
      expect.objectContaining({ what: "imap", ok: true }),
      expect.objectContaining({ what: "smtp", ok: true }),
    ]);
    const bad = await checkEmail(settings("wrong-password-777"));
    expect(bad.map((c) => [c.what, c.ok])).toEqual([
      ["imap", false],
      ["smtp", false],
    ]);
    expect(bad[0]?.detail).toContain("login refused");
    expect(JSON.stringify(bad)).not.toContain("wrong-password-777");
  });

  it("a wrong password: start fails with a code, the password in no error or log", async () => {
    const h = emailHarness(world, { password: "not-the-password-42" });
    const err = await h.channel.start(async () => undefined).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^email: IMAP connection failed \(/);
    expect(`${(err as Error).message}${JSON.stringify(h.logs)}`).not.toContain("not-the-password-42");
  });
});

async function until<T>(f: () => T | undefined | Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}
