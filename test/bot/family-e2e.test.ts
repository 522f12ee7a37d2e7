/**
 * The WhatsApp family assistant, end to end with no fakes inside Warden: `warden start`'s wiring
 * (runStart) with the real gateway, bot, WhatsApp channel (on a fake account built from baileys' own
 * event machinery), Docker runtime and a real `family` agent container (demo brain). The owner runs
 * `/setup family` in the family group and names the parents and a child; the child asks the assistant
 * to book a swimming lesson; the card goes to both parents' private chats (not the owner's); Dad's 👍 reaction
 * approves it; the booking is made; Mum's later 👍 is refused as already decided, privately.
 */
import { afterAll, describe, expect, it } from "vitest";
import { dockerUnavailable } from "../agents/agent-world.js";
import { pollUntil } from "../fakes/poll-until.js";
import { createFakeWhatsApp } from "../fakes/whatsapp-socket.js";
import { startTestWarden } from "./test-warden.js";

const skip = dockerUnavailable();
const GROUP = "120363000000000001@g.us";
const OWNER = "447700900001"; // Grandpa set Warden up; he is not a parent
const MUM = "447700900123";
const DAD = "447700900456";
const KID = "447700900789"; // may ask, may not approve
const dmOf = (n: string) => `${n}@s.whatsapp.net`;

describe.skipIf(skip)(`WhatsApp family assistant end to end${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it("setup from the group; a booking approved by a parent's reaction in private; the other parent's later tap refused", {
    timeout: 240_000,
  }, async () => {
    const wa = createFakeWhatsApp({ me: "15550000000" });
    const running = await startTestWarden("family-e2e", { whatsapp: { connect: wa.connect } });
    cleanup.push(() => running.close());
    wa.open();
    const textIn = (jid: string, re: RegExp, ms = 30_000) =>
      pollUntil(`a message matching ${re} in ${jid}`, () => wa.textsIn(jid).find((t) => re.test(t)), ms);

    // Grandpa claims Warden from his private chat, then sets the assistant up in the family group.
    wa.privateText(OWNER, `/start ${running.claimToken}`);
    await textIn(dmOf(OWNER), /you are owner/);
    wa.groupText(GROUP, OWNER, "/setup family");
    await textIn(GROUP, /Who are the parents\?/);
    wa.groupText(GROUP, OWNER, "Mum +44 7700 900123, Dad +44 7700 900456");
    await textIn(GROUP, /Who else in the family may ask me for things\?/);
    wa.groupText(GROUP, OWNER, `Sam @${KID}`, { mentions: [dmOf(KID)] });
    await textIn(GROUP, /I must ask a parent \(Parent 1, Parent 2\)/, 120_000);
    await textIn(dmOf(MUM), /made you an approver for the family assistant/);
    await textIn(dmOf(DAD), /react 👍 \/ 👎/);

    // Sam asks the assistant, in the group, to book something: held for a parent.
    wa.groupText(GROUP, KID, "@15550000000 book a swimming lesson on Saturday", { mentions: [wa.me] });
    const cardIn = (jid: string) =>
      pollUntil(
        `the card in ${jid}`,
        () =>
          wa.sent.find(
            (s) =>
              s.jid === jid &&
              s.kind === "text" &&
              /swimming lesson/.test(textOf(s.content)) &&
              /approve/i.test(textOf(s.content)),
          ),
        90_000,
      );
    const dadCard = await cardIn(dmOf(DAD));
    const mumCard = await cardIn(dmOf(MUM));
    await cardIn(GROUP); // the family sees what is pending
    expect(wa.sent.some((s) => s.jid === dmOf(OWNER) && /swimming lesson/.test(textOf(s.content)))).toBe(
      false,
    );

    // Dad reacts 👍 to the card in his private chat: approved, booked, and the assistant says so.
    wa.react(DAD, dmOf(DAD), dadCard.message.key, "👍");
    await textIn(GROUP, /Booking a swimming lesson on Saturday: done/, 60_000);
    await pollUntil(
      "Mum's card edited",
      () => (/Approved by Parent 2/.test(wa.current(mumCard.message.key.id ?? "") ?? "") ? true : undefined),
      30_000,
    );

    // Mum's later 👍 changes nothing and is answered privately: already decided.
    const groupBefore = wa.textsIn(GROUP).length;
    wa.react(MUM, dmOf(MUM), mumCard.message.key, "👍");
    await textIn(dmOf(MUM), /^Already decided$/);
    expect(wa.textsIn(GROUP).length).toBe(groupBefore);
    const decided = (await running.gateway.approvals.list()).filter((a) => a.agent === "family");
    // One approval, decided by Dad alone and used once for the booking.
    expect(decided.map((a) => [a.state, a.approvals])).toEqual([["used", ["whatsapp:447700900456"]]]);
  });
});

function textOf(content: unknown): string {
  return typeof (content as { text?: unknown }).text === "string" ? (content as { text: string }).text : "";
}
