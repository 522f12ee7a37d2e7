/**
 * Quiet hours, escalation and the reminder through the real router, bot store and approvals engine
 * on fake channels, with a fake clock (2030-01-01 00:00 UTC = 00:00 in London): in the family setup
 * one parent's quiet hours send the card to the other parent, nobody is skipped silently, a quorum
 * still needs everyone it needed, a waiting card goes out when the hours end, and a request whose
 * approvers are all quiet waits instead of failing.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { createSlackChannel } from "../../bot/channels/slack/index.js";
import { createFakeChannel, type FakeChannel } from "../fakes/fake-channel.js";
import { pollUntil } from "../fakes/poll-until.js";
import { startFakeSlack } from "../fakes/slack-api.js";
import { type BotWorld, createBotWorld, settle } from "./bot-world.js";

let w: BotWorld;
let wa: FakeChannel;
const GROUP = "family-group";
const MUM = "447700900123";
const DAD = "447700900456";
const H = 3_600_000;
const inGroup = (from: string, text: string) => wa.message({ from, text, chatId: GROUP, isPrivate: false });
const dm = (from: string, text: string) => wa.message({ from, text });
const lastIn = (chatId: string) => wa.textsIn(chatId).at(-1) ?? "";
const lines = (card: { lines: readonly { label: string; value: string }[] } | undefined) =>
  (card?.lines ?? []).map((l) => `${l.label}: ${l.value}`);

beforeEach(async () => {
  wa = createFakeChannel({ platform: "whatsapp" });
  w = createBotWorld({ channels: [wa.channel] });
  await w.bot.start();
  await w.store.createPerson("whatsapp:1", "Olivia", "owner");
  // The real guided setup names the parents (Parent 1 = Mum, Parent 2 = Dad) and writes the policy.
  await inGroup("1", "/setup family");
  await inGroup("1", `+${MUM}, +${DAD}`);
  await inGroup("1", "none");
});

const holdBooking = (o: { needed?: number; timeoutMs?: number } = {}) =>
  w.hold({ approvers: [`whatsapp:${MUM}`, `whatsapp:${DAD}`], agent: "family", ...o });

describe("quiet hours in the family setup", () => {
  it("/quiet sets, shows and turns off a parent's quiet hours in their own zone", async () => {
    await dm(MUM, "/quiet");
    expect(lastIn(MUM)).toMatch(/You have no quiet hours/);
    await dm(MUM, "/quiet 22:00-07:00 tz=Europe/London");
    expect(lastIn(MUM)).toMatch(/^Quiet hours set: 22:00-07:00 \(Europe\/London\)/);
    await dm(MUM, "/quiet");
    expect(lastIn(MUM)).toMatch(/Your quiet hours: 22:00-07:00 \(Europe\/London\)/);
    await dm(DAD, "/quiet 23:00-06:30"); // this platform tells no zone: UTC
    expect(lastIn(DAD)).toMatch(/^Quiet hours set: 23:00-06:30 \(UTC\)/);
    await dm(MUM, "/quiet 25:00-07:00");
    expect(wa.textsIn(MUM).slice(-2).join("\n")).toMatch(/Write the hours like 22:00-07:00/);
    await dm(MUM, "/quiet off");
    expect(lastIn(MUM)).toMatch(/Quiet hours off/);
    expect(await w.store.quietOf((await w.store.personOf(`whatsapp:${MUM}`))?.id ?? "")).toBeUndefined();
    // Strangers get the polite refusal, nothing is stored.
    await dm("999", "/quiet 22:00-07:00");
    expect(lastIn("999")).not.toMatch(/Quiet hours set/);
  });

  it("one parent in quiet hours: the card goes to the other parent, saying whose card waits; decided, hers never comes", async () => {
    await dm(MUM, "/quiet 22:00-07:00 tz=Europe/London");
    const { view, outcome } = await holdBooking();
    expect(wa.cardsIn(MUM)).toHaveLength(0);
    const dad = wa.cardsIn(DAD)[0];
    expect(lines(dad?.card)).toContain(
      "Quiet hours: Parent 1 is in quiet hours until 07:00 (their card waits)",
    );
    expect(
      await wa.tap({
        from: DAD,
        ref: dad?.ref ?? { platform: "", chatId: "", messageId: "" },
        data: "approve",
      }),
    ).toEqual(["Approved."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    w.advance(8 * H);
    await settle();
    expect(wa.cardsIn(MUM)).toHaveLength(0);
    expect((await w.approvals.get(view.id))?.state).toBe("used");
  });

  it("never reduces a quorum: with both parents needed, the quiet one's card comes at 07:00 and her vote still counts", async () => {
    await dm(MUM, "/quiet 22:00-07:00 tz=Europe/London");
    const { view, outcome } = await holdBooking({ needed: 2, timeoutMs: 12 * H });
    const dad = wa.cardsIn(DAD)[0];
    if (!dad) throw new Error("no card for Dad");
    expect(await wa.tap({ from: DAD, ref: dad.ref, data: "approve" })).toEqual([
      "Counted: 1 of 2 approvals.",
    ]);
    w.advance(7 * H - 60_000);
    await settle();
    expect(wa.cardsIn(MUM)).toHaveLength(0);
    w.advance(60_000);
    await settle();
    const mum = wa.cardsIn(MUM)[0];
    if (!mum) throw new Error("Mum's card did not come when her quiet hours ended");
    // Once her card is out, nobody's card says it waits any more.
    expect(lines(wa.currentCard(dad.ref)).some((l) => l.startsWith("Quiet hours"))).toBe(false);
    expect(await wa.tap({ from: MUM, ref: mum.ref, data: "approve" })).toEqual(["Approved."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect([...((await w.approvals.get(view.id))?.approvals ?? [])].sort()).toEqual([
      `whatsapp:${MUM}`,
      `whatsapp:${DAD}`,
    ]);
  });

  it("both parents quiet: the request waits (it is not refused) and both cards come when the hours end", async () => {
    await dm(MUM, "/quiet 22:00-07:00 tz=Europe/London");
    await dm(DAD, "/quiet 23:00-06:00");
    const { view, outcome } = await holdBooking({ timeoutMs: 10 * H });
    expect((await w.approvals.get(view.id))?.state).toBe("pending");
    expect(wa.cardsIn(MUM)).toHaveLength(0);
    expect(wa.cardsIn(DAD)).toHaveLength(0);
    // The family group still sees what is pending, and that both parents' cards wait.
    expect(lines(wa.cardsIn(GROUP)[0]?.card).join("\n")).toMatch(
      /Parent 1 is in quiet hours until 07:00.*Parent 2 is in quiet hours until 06:00/s,
    );
    w.advance(6 * H);
    await settle();
    const dad = wa.cardsIn(DAD)[0];
    expect(dad).toBeDefined();
    expect(wa.cardsIn(MUM)).toHaveLength(0);
    expect(
      await wa.tap({ from: DAD, ref: dad?.ref ?? { platform: "", chatId: "", messageId: "" }, data: "deny" }),
    ).toEqual(["Denied."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "denied" });
    w.advance(2 * H);
    await settle();
    expect(wa.cardsIn(MUM)).toHaveLength(0);
  });

  it("a request that expires during someone's quiet hours is never shown to them afterwards", async () => {
    await dm(MUM, "/quiet 22:00-07:00 tz=Europe/London");
    const { outcome } = await holdBooking({ timeoutMs: H });
    // The fake clock fires every due timer at once: let the expiry (1 h) settle, with its store
    // writes, before quiet hours end (07:00), as the hours between them would.
    w.advance(2 * H);
    await expect(outcome).resolves.toMatchObject({ outcome: "expired" });
    await settle();
    w.advance(6 * H);
    await settle();
    expect(wa.cardsIn(MUM)).toHaveLength(0);
  });
});

describe("quiet hours on Slack", () => {
  it("/quiet without tz= takes the zone Slack tells (users.info), through the real Bolt channel", async () => {
    const f = await startFakeSlack();
    const slack = createSlackChannel({ botToken: f.botToken, appToken: f.appToken, apiUrl: f.apiUrl });
    const sw = createBotWorld({ channels: [slack] });
    try {
      await sw.bot.start();
      const ann = await sw.store.createPerson("slack:U0ANN", "Ann", "approver");
      f.setTimeZone("U0ANN", "America/New_York");
      await f.message({ user: "U0ANN", text: "/quiet 22:00-07:00" });
      await pollUntil("quiet hours stored", () => sw.store.quietOf(ann.id));
      expect(await sw.store.quietOf(ann.id)).toEqual({ start: 1320, end: 420, tz: "America/New_York" });
      // A zone the platform reports that Intl does not know falls back to UTC.
      f.setTimeZone("U0ANN", "Nowhere/Special");
      await f.message({ user: "U0ANN", text: "/quiet 21:00-06:00" });
      await pollUntil("new quiet hours", async () =>
        (await sw.store.quietOf(ann.id))?.start === 1260 ? true : undefined,
      );
      expect((await sw.store.quietOf(ann.id))?.tz).toBe("UTC");
    } finally {
      await sw.bot.stop();
      await f.close();
    }
  });
});

describe("reminder and escalation through the bot", () => {
  it("one reminder DM at 80% of the timeout, only to approvers who have not voted, linking the card", async () => {
    const { view } = await holdBooking({ needed: 2, timeoutMs: 10 * 60_000 });
    const dad = wa.cardsIn(DAD)[0];
    if (!dad) throw new Error("no card for Dad");
    await wa.tap({ from: DAD, ref: dad.ref, data: "approve" });
    const before = { mum: wa.textsIn(MUM).length, dad: wa.textsIn(DAD).length };
    w.advance(8 * 60_000);
    await settle();
    const mumNew = wa.textsIn(MUM).slice(before.mum);
    expect(mumNew).toHaveLength(1);
    expect(mumNew[0]).toMatch(
      /^Reminder: family wants to POST api\.example\.test\/v1\/things is still waiting for your decision \(expires in 2 min\)\./,
    );
    expect(wa.textsIn(DAD).length - before.dad).toBe(0); // Dad's tap reply aside, no reminder
    w.advance(60_000);
    await settle();
    expect(wa.textsIn(MUM).slice(before.mum)).toHaveLength(1); // once
    expect(w.auditLog.filter((e) => e.type === "approval_reminded" && e.approval === view.id)).toHaveLength(
      1,
    );
  });

  it("escalation to a role: the owner gets a card after the window; the parents' cards say Escalated to every owner", async () => {
    const { view, outcome } = await w.hold({
      approvers: [`whatsapp:${MUM}`],
      agent: "family",
      timeoutMs: 30 * 60_000,
      escalate: { afterMs: 10 * 60_000, to: ["role:owner"] },
    });
    expect(wa.cardsIn("1")).toHaveLength(0);
    w.advance(10 * 60_000);
    await settle();
    const owner = wa.cardsIn("1")[0];
    if (!owner) throw new Error("the owner got no card");
    expect(lines(wa.cardsIn(MUM)[0]?.card)).toContain("Escalated to: every owner");
    expect(await wa.tap({ from: "1", ref: owner.ref, data: "approve" })).toEqual(["Approved."]);
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect((await w.approvals.get(view.id))?.escalatedTo).toEqual(["role:owner"]);
  });
});
