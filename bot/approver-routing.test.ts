import { describe, expect, it } from "vitest";
import { createManualClock } from "../test/fakes/manual-clock.js";
import { annotateCard, createApproverRouting, peopleToRemind, reminderText } from "./approver-routing.js";
import type { Person } from "./bot-store.js";
import type { Card } from "./channel.js";
import type { QuietHours } from "./quiet-hours.js";

const T0 = Date.parse("2030-01-01T00:00:00Z"); // 00:00 UTC
const ann: Person = { id: "p-ann", name: "Ann", role: "approver", preferred: "fake" };
const bob: Person = { id: "p-bob", name: "Bob", role: "approver", preferred: "fake" };
const at = (chatId: string) => ({ platform: "fake", chatId });
const NIGHT: QuietHours = { start: 22 * 60, end: 7 * 60, tz: "UTC" };
const CARD: Card = {
  title: "t",
  lines: [{ label: "Agent", value: "demo" }],
  agentSays: null,
  status: "s",
  buttons: [],
};

function setup(quiet: Record<string, QuietHours> = {}) {
  const clock = createManualClock(T0);
  const delivered: string[] = [];
  const routing = createApproverRouting({
    quietOf: async (p) => quiet[p],
    now: clock.now,
    schedule: clock.schedule,
    deliver: async (id, to) => void delivered.push(`${id}->${to.chatId}`),
  });
  return { clock, delivered, routing };
}

describe("approver routing", () => {
  it("holds a quiet person's card, says so, and delivers it when the hours end (once)", async () => {
    const { clock, delivered, routing } = setup({ "p-ann": NIGHT });
    const targets = [
      { address: at("ann"), person: ann },
      { address: at("bob"), person: bob },
    ];
    expect([...(await routing.route("a1", targets)).values()]).toEqual([at("bob")]);
    expect([...(await routing.route("a1", targets)).values()]).toEqual([at("bob")]); // idempotent
    expect(routing.waits("a1")).toBe(true);
    expect(routing.notes("a1")).toEqual(["Ann is in quiet hours until 07:00 (their card waits)"]);
    clock.advance(7 * 3_600_000 - 1);
    expect(delivered).toEqual([]);
    clock.advance(1);
    expect(delivered).toEqual(["a1->ann"]);
    expect(routing.waits("a1")).toBe(false);
  });

  it("settle cancels waiting cards: a decided request is never sent to the quiet person", async () => {
    const { clock, delivered, routing } = setup({ "p-ann": NIGHT });
    await routing.route("a1", [{ address: at("ann"), person: ann }]);
    routing.settle("a1");
    clock.advance(24 * 3_600_000);
    expect(delivered).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it("ids without a person and people without quiet hours go out at once", async () => {
    const { routing } = setup({ "p-bob": { start: 9 * 60, end: 17 * 60, tz: "UTC" } });
    const out = await routing.route("a1", [{ address: at("x") }, { address: at("bob"), person: bob }]);
    expect([...out.values()]).toEqual([at("x"), at("bob")]);
  });

  it("cards say who was escalated to (roles as 'every <role>') and whose card waits, the latter only while pending", () => {
    const nameOf = (id: string) => (id === "fake:1" ? "Olga" : id);
    const notes = { quiet: ["Ann is in quiet hours until 07:00 (their card waits)"], nameOf };
    const pending = annotateCard(CARD, { state: "pending", escalatedTo: ["fake:1", "role:owner"] }, notes);
    expect(pending.lines.slice(1)).toEqual([
      { label: "Escalated to", value: "Olga, every owner" },
      { label: "Quiet hours", value: "Ann is in quiet hours until 07:00 (their card waits)" },
    ]);
    const decided = annotateCard(CARD, { state: "approved", escalatedTo: ["fake:1"] }, notes);
    expect(decided.lines.slice(1)).toEqual([{ label: "Escalated to", value: "Olga" }]);
    expect(annotateCard(CARD, { state: "pending" }, { quiet: [], nameOf })).toBe(CARD);
  });

  it("reminds each non-voting, non-quiet person once, whichever identity or role names them", async () => {
    const olga: Person = { id: "p-olga", name: "Olga", role: "owner", preferred: "fake" };
    const people = [ann, bob, olga];
    const personOf = async (id: string) => people.find((p) => `fake:${p.id.slice(2)}` === id);
    const store = {
      listPeople: async () => people,
      personOf,
      quietOf: async (id: string) => (id === "p-bob" ? NIGHT : undefined),
    };
    const view = { approvers: ["fake:ann", "fake:bob", "role:approver"], approvals: [], deniedBy: undefined };
    const holds = (p: Person, role: string) => role === "approver" || p.role === role;
    expect((await peopleToRemind(view, { store, now: T0, holds })).map((p) => p.name)).toEqual([
      "Ann",
      "Olga",
    ]);
    const voted = { ...view, approvals: ["fake:ann"] };
    expect((await peopleToRemind(voted, { store, now: T0, holds })).map((p) => p.name)).toEqual(["Olga"]);
    expect(reminderText({ title: "demo wants to POST x", link: "http://w/approvals/1" }, 120_000)).toBe(
      "Reminder: demo wants to POST x is still waiting for your decision (expires in 2 min). Card and full request: http://w/approvals/1",
    );
  });
});
