/**
 * The family assistant across two platforms, end to end with no fakes inside Warden: `warden start`'s
 * wiring (runStart, settings read from env names by cli/chat-settings.ts) with the real gateway, bot,
 * Matrix channel (matrix-js-sdk against our fake homeserver), Email channel (imapflow / nodemailer /
 * mailparser against a real Dovecot and our SMTP relay), Docker runtime and a real `family` agent
 * container (demo brain). Grandpa claims Warden in a Matrix DM and runs `/setup family` in the family
 * room naming Mum on Matrix and Dad by email; Sam asks the assistant to book; the card reaches Mum's
 * Matrix DM and Dad's mailbox; Dad's reply `approve` (to the card's Reply-To token address, in its
 * thread) approves; the booking goes upstream once; Mum's card is edited (m.replace) to the
 * decision; her later ✅ is refused as already decided. With CI set, no Docker or Dovecot = failure.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYS } from "../../bot/channels/matrix/card-content.js";
import { chatSettings } from "../../cli/chat-settings.js";
import { dockerUnavailable } from "../agents/agent-world.js";
import { dovecotAvailable } from "../fakes/dovecot.js";
import { type FakeHomeserver, type MxEvent, startFakeHomeserver } from "../fakes/matrix-homeserver.js";
import { pollUntil } from "../fakes/poll-until.js";
import { mailReader, type SeenMail, sendAs } from "../fakes/smtp-relay.js";
import { type MailWorld, startMailWorld } from "./email-harness.js";
import { startTestWarden } from "./test-warden.js";

const noDocker = dockerUnavailable();
const skip = noDocker ?? (dovecotAvailable() ? undefined : "Dovecot is not installed");
const BOT_MAIL = "warden@mail.test";
const DAD = "dad@mail.test"; // not on Matrix: he approves by mail

describe.skipIf(skip)(
  `family assistant on Matrix and Email end to end${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let world: MailWorld;
    let hs: FakeHomeserver;
    const cleanup: (() => Promise<void>)[] = [];
    beforeAll(async () => {
      world = await startMailWorld();
      cleanup.push(() => world.close());
      hs = await startFakeHomeserver();
      cleanup.push(() => hs.close());
    });
    afterAll(async () => {
      for (const f of cleanup.reverse()) await f().catch(() => undefined);
    });

    it("setup in a Matrix room; Dad's email reply approves; Mum's Matrix card is edited; her later ✅ is refused", {
      timeout: 300_000,
    }, async () => {
      const OWNER = hs.mxid("grandpa");
      const MUM = hs.mxid("mum");
      const KID = hs.mxid("sam");
      const settings = chatSettings({
        MATRIX_HOMESERVER_URL: hs.baseUrl,
        MATRIX_USER_ID: hs.botId,
        MATRIX_ACCESS_TOKEN: hs.token,
        EMAIL_IMAP_URL: `imap://${encodeURIComponent(BOT_MAIL)}@127.0.0.1:${world.dovecot.imapPort}`,
        EMAIL_SMTP_URL: `smtp://${encodeURIComponent(BOT_MAIL)}@127.0.0.1:${world.relay.port}`,
        EMAIL_ADDRESS: BOT_MAIL,
        EMAIL_PASSWORD: world.dovecot.password,
      });
      expect(settings.matrix).toBeDefined();
      expect(settings.email).toBeDefined();
      const running = await startTestWarden("family-mx-mail", {
        matrix: settings.matrix,
        email: settings.email,
      });
      cleanup.push(() => running.close());
      const mail = mailReader(world.relay);
      const mailsTo = async (to: string) =>
        (await mail.all()).filter((m) => m.mailFrom === BOT_MAIL && m.to === to);
      // On a timeout, say what the bot did say there and what Warden logged (event names only).
      const textIn = (room: string, re: RegExp, ms = 30_000) =>
        pollUntil(
          `a message matching ${re} in ${room}`,
          () => hs.botTexts(room).find((t) => re.test(t)),
          ms,
        ).catch((err: Error) => {
          const events = running.logs.map((l) => JSON.parse(l).event).join(" ");
          const said = JSON.stringify(hs.botTexts(room).slice(-3));
          throw new Error(`${err.message}; said there: ${said}; log: ${events}`);
        });
      const dmTextOf = (user: string, re: RegExp, ms = 30_000) =>
        pollUntil(
          `a message matching ${re} to ${user}`,
          () =>
            hs
              .dmRoomsOf(user)
              .flatMap((r) => hs.botTexts(r))
              .find((t) => re.test(t)),
          ms,
        );

      // Grandpa claims Warden in his DM with the bot, then sets the assistant up in the family room.
      const ownerDm = hs.dmRoom(OWNER);
      hs.text(ownerDm, OWNER, `/start ${running.claimToken}`);
      // Answered in the DM it came from (the room reached the bot in the same /sync as the message).
      await textIn(ownerDm, /you are owner/);
      expect(hs.dmRoomsOf(OWNER)).toEqual([ownerDm]);
      const FAMILY = hs.createRoom({ members: [OWNER, MUM, KID], withBot: true, name: "Family" });
      hs.text(FAMILY, OWNER, "/setup family");
      await textIn(FAMILY, /Who are the parents\?/);
      hs.text(FAMILY, OWNER, `Mum matrix:${MUM}, Dad email:${DAD}`);
      await textIn(FAMILY, /Who else in the family may ask me for things\?/);
      await dmTextOf(MUM, /made you an approver for the family assistant in your family group/);
      const greeting = await pollUntil("Dad's greeting", async () => (await mailsTo(DAD))[0], 30_000);
      expect(greeting.text).toMatch(/made you an approver for the family assistant/);
      hs.text(FAMILY, OWNER, `Sam matrix:${KID}`);
      await textIn(FAMILY, /I must ask a parent \(Parent 1, Parent 2\)/, 120_000);
      expect(await running.bot.roles.hasRole(`matrix:${KID}`, "member")).toBe(true);
      expect(await running.bot.roles.hasRole(`email:${DAD}`, "approver")).toBe(false); // a parent, not an approver

      // Sam asks the assistant, in the room, to book something: held for a parent.
      hs.text(FAMILY, KID, `${hs.botId} book a swimming lesson on Saturday`, {
        "m.mentions": { user_ids: [hs.botId] },
      });
      const isCard = (body: string) => /swimming lesson/.test(body) && /approve/i.test(body);
      const mumCard = await pollUntil(
        "the card in Mum's DM",
        () =>
          hs
            .dmRoomsOf(MUM)
            .flatMap((r) => hs.eventsIn(r))
            .find((e) => e.sender === hs.botId && isFirstSend(e) && isCard(String(e.content.body ?? ""))),
        90_000,
      );
      const dadCard: SeenMail = await pollUntil(
        "the card in Dad's mailbox",
        async () => (await mailsTo(DAD)).find((m) => isCard(m.text)),
        90_000,
      );
      expect(dadCard.replyTo).toMatch(/^warden\+[^@]+@mail\.test$/); // the unguessable token address
      const roomCard = await pollUntil(
        "the pending card in the room",
        () =>
          hs
            .eventsIn(FAMILY)
            .find(
              (e) =>
                e.sender === hs.botId &&
                isFirstSend(e) &&
                /swimming lesson/.test(String(e.content.body ?? "")),
            ),
        30_000,
      );
      // Grandpa owns Warden but is not a parent, Sam asked: their ✅ on the room's card decide nothing.
      hs.react(FAMILY, OWNER, roomCard.event_id, KEYS.approve);
      hs.react(FAMILY, KID, roomCard.event_id, KEYS.approve);
      await dmTextOf(OWNER, /^You are not an approver for this request/);
      await dmTextOf(KID, /^You are not an approver for this request/);
      expect(
        (await running.gateway.approvals.list()).filter((a) => a.agent === "family").map((a) => a.state),
      ).toEqual(["pending"]);
      expect(
        hs
          .dmRoomsOf(OWNER)
          .flatMap((r) => hs.botTexts(r))
          .some((t) => /swimming lesson/.test(t)),
      ).toBe(false);
      expect(running.demo.family.filter((a) => a.kind === "bookings")).toEqual([]);

      // Dad replies "approve" from his mail client: to the card's Reply-To, in its thread, quote below.
      await sendAs(world.relay, world.dovecot.password, {
        from: DAD,
        to: dadCard.replyTo ?? BOT_MAIL,
        subject: `Re: ${dadCard.subject}`,
        text: `approve\n\nOn Mon, Warden wrote:\n> ${dadCard.text.split("\n")[0] ?? ""}`,
        inReplyTo: dadCard.messageId,
        references: [...dadCard.references, dadCard.messageId],
      });
      await textIn(FAMILY, /Booking a swimming lesson on Saturday: done/, 90_000);

      // Mum's card is edited in place (m.replace) to the decision; the booking was made once.
      const mumRoom = hs.roomOfEvent(mumCard.event_id) as string;
      await pollUntil(
        "Mum's card edited",
        () => (/Approved by Parent 2/.test(readNotice(hs, mumCard.event_id)) ? true : undefined),
        30_000,
      );
      expect(
        hs
          .eventsIn(mumRoom)
          .some((e) => e.sender === hs.botId && relatesTo(e, "m.replace") === mumCard.event_id),
      ).toBe(true);
      expect(running.demo.family.filter((a) => a.kind === "bookings")).toHaveLength(1);

      // Mum's later ✅ changes nothing and is answered in her DM: already decided.
      const roomBefore = hs.botTexts(FAMILY).length;
      hs.react(mumRoom, MUM, mumCard.event_id, KEYS.approve);
      await textIn(mumRoom, /^Already decided$/);
      expect(hs.botTexts(FAMILY).length).toBe(roomBefore);
      // One approval, decided by Dad alone (by mail) and used once for the booking.
      const decided = (await running.gateway.approvals.list()).filter((a) => a.agent === "family");
      expect(decided.map((a) => [a.state, a.approvals])).toEqual([["used", [`email:${DAD}`]]]);
      expect(running.demo.family.filter((a) => a.kind === "bookings")).toHaveLength(1);
      // No secret reached a log line or a printed line.
      const printed = [...running.logs, ...running.said].join("\n");
      expect(printed).not.toContain(hs.token);
      expect(printed).not.toContain(world.dovecot.password);
    });
  },
);

/** A notice as a person reads it in Element now (edits applied): the HTML's text, entities undone. */
function readNotice(hs: FakeHomeserver, eventId: string): string {
  const c = hs.shown(eventId) ?? {};
  return String(c.formatted_body ?? c.body ?? "")
    .replace(/<br>|<\/p>|<\/pre>/g, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** A message as first sent: not an edit, not a reaction. */
function isFirstSend(e: MxEvent): boolean {
  return e.type === "m.room.message" && relatesTo(e, "m.replace") === undefined;
}

function relatesTo(e: MxEvent, relType: string): string | undefined {
  const r = e.content["m.relates_to"] as { rel_type?: string; event_id?: string } | undefined;
  return r?.rel_type === relType ? r.event_id : undefined;
}
