/**
 * Escalation and the reminder, on the real approvals engine over SQLite with a fake clock: who may
 * vote grows only when nobody voted in time, only once, survives a restart, and never lowers the
 * quorum; the one reminder goes out at 80% of the timeout.
 */
import { describe, expect, it } from "vitest";
import { createManualClock } from "../test/fakes/manual-clock.js";
import type { ApprovalView, Approver } from "./approver.js";
import { createApprovals, type HoldRequest } from "./approvals.js";
import { nextStep } from "./escalation.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { ApprovalRecord, Store } from "./store.js";

const MIN = 60_000;
const REQ: HoldRequest = {
  fingerprint: "fp1",
  agent: "a1",
  method: "POST",
  url: "https://api.test/send",
  host: "api.test",
  path: "/send",
  policy: "p",
  rule: "send",
  bodyPreview: "",
  reason: null,
  needed: 1,
  approvers: ["test:alice"],
  timeoutMs: 30 * MIN,
  grantMs: null,
  escalate: { afterMs: 10 * MIN, to: ["test:carol", "role:owner", "test:alice"] },
};

function world(store: Store = openSqliteStore(":memory:"), start = 1_000_000) {
  const clock = createManualClock(start);
  const told: { what: string; view: ApprovalView }[] = [];
  const approver: Required<Pick<Approver, "requested" | "updated" | "escalated" | "remind">> = {
    requested: async (view) => void told.push({ what: "requested", view }),
    updated: async (view) => void told.push({ what: "updated", view }),
    escalated: async (view) => void told.push({ what: "escalated", view }),
    remind: async (view) => void told.push({ what: "remind", view }),
  };
  const audit: Record<string, unknown>[] = [];
  let n = 0;
  const approvals = createApprovals({
    store,
    audit: (e) => void audit.push(e),
    approver,
    roles: { hasRole: (id, role) => role === "owner" && id === "test:olga" },
    now: clock.now,
    schedule: clock.schedule,
    newId: () => `id${++n}`,
  });
  return { store, clock, told, audit, approvals };
}

const tick = () => new Promise((r) => setImmediate(r));
const what = (told: { what: string }[]) => told.map((t) => t.what);

describe("escalation", () => {
  it("nobody voted after `after`: the approvers grow by `to` (once each), audited, escalated then updated", async () => {
    const w = world();
    const outcome = w.approvals.hold(REQ);
    await tick();
    expect(
      await w.approvals.decide("id1", { decision: "approve", by: "test:carol", scope: "once" }),
    ).toMatchObject({
      ok: false,
      status: 403,
    });
    w.clock.advance(10 * MIN - 1);
    await tick();
    expect((await w.approvals.get("id1"))?.escalatedTo).toBeUndefined();
    w.clock.advance(1);
    await tick();
    const view = await w.approvals.get("id1");
    expect(view).toMatchObject({
      state: "pending",
      needed: 1,
      approvers: ["test:alice", "test:carol", "role:owner"],
      escalatedTo: ["test:carol", "role:owner"],
    });
    expect(what(w.told)).toEqual(["requested", "escalated", "updated"]);
    expect(w.told[1]?.view.escalatedTo).toEqual(["test:carol", "role:owner"]);
    expect(w.audit).toContainEqual(
      expect.objectContaining({
        type: "approval_escalated",
        approval: "id1",
        to: ["test:carol", "role:owner"],
      }),
    );
    // A role named by the escalation counts too; the new person's vote decides.
    expect(
      await w.approvals.decide("id1", { decision: "approve", by: "test:olga", scope: "once" }),
    ).toMatchObject({
      ok: true,
    });
    await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    expect(w.audit.filter((e) => e.type === "approval_escalated")).toHaveLength(1);
  });

  it("a vote before `after` is an answer: no escalation, and the quorum stays", async () => {
    const w = world();
    void w.approvals.hold({ ...REQ, needed: 2, approvers: ["test:alice", "test:bob"] });
    await tick();
    await w.approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" });
    w.clock.advance(20 * MIN);
    await tick();
    expect(await w.approvals.get("id1")).toMatchObject({
      state: "pending",
      approvers: ["test:alice", "test:bob"],
    });
    expect((await w.approvals.get("id1"))?.escalatedTo).toBeUndefined();
    expect(w.audit.some((e) => e.type === "approval_escalated")).toBe(false);
  });

  it("never lowers the quorum: escalated, two distinct approvals are still needed", async () => {
    const w = world();
    void w.approvals.hold({ ...REQ, needed: 2 });
    await tick();
    w.clock.advance(10 * MIN);
    await tick();
    expect(
      await w.approvals.decide("id1", { decision: "approve", by: "test:carol", scope: "once" }),
    ).toMatchObject({
      ok: true,
      approval: { state: "pending", needed: 2 },
    });
  });

  it("one reminder at 80% of the timeout, then expiry; escalation first when earlier", async () => {
    const w = world();
    const outcome = w.approvals.hold(REQ);
    await tick();
    w.clock.advance(24 * MIN - 1);
    await tick();
    expect(what(w.told)).toEqual(["requested", "escalated", "updated"]);
    w.clock.advance(1);
    await tick();
    expect(what(w.told)).toEqual(["requested", "escalated", "updated", "remind"]);
    // The reminder goes to the approvers as they are now (escalated ones included).
    expect(w.told[3]?.view.approvers).toContain("test:carol");
    w.clock.advance(6 * MIN);
    await tick();
    await expect(outcome).resolves.toMatchObject({ outcome: "expired" });
    expect(w.audit.filter((e) => e.type === "approval_reminded")).toHaveLength(1);
    expect(w.clock.pending()).toBe(0);
  });

  it("approvals shorter than a minute get no reminder; rules without escalate get only the reminder", async () => {
    const w = world();
    const { escalate: _, ...plain } = REQ;
    void w.approvals.hold({ ...plain, timeoutMs: 30_000 });
    void w.approvals.hold({ ...plain, fingerprint: "fp2" });
    await tick();
    // Timers fire at their time and their work is asynchronous: step the clock past each one.
    w.clock.advance(25 * MIN);
    await tick();
    w.clock.advance(5 * MIN);
    await tick();
    expect(w.audit.filter((e) => e.type === "approval_reminded").map((e) => e.approval)).toEqual(["id2"]);
    expect(w.audit.some((e) => e.type === "approval_escalated")).toBe(false);
  });

  it("a restart keeps the escalation and does not repeat it; one that fell due while down happens on resume", async () => {
    const store = openSqliteStore(":memory:");
    const first = world(store);
    void first.approvals.hold(REQ);
    void first.approvals.hold({ ...REQ, fingerprint: "fp2" });
    await tick();
    first.clock.advance(10 * MIN);
    await tick();
    first.approvals.shutdown();
    // id1 and id2 were escalated; pretend id2 was stored before it was (the gateway went down first).
    const id2 = (await store.getApproval("id2")) as ApprovalRecord;
    const { escalatedTo: _a, escalatedAt: _b, ...unescalated } = id2;
    await store.putApproval({ ...unescalated, approvers: ["test:alice"] });

    const second = world(store, first.clock.now() + MIN);
    await second.approvals.resume();
    second.clock.advance(0);
    await tick();
    expect((await second.approvals.get("id1"))?.approvers).toEqual([
      "test:alice",
      "test:carol",
      "role:owner",
    ]);
    expect((await second.approvals.get("id2"))?.escalatedTo).toEqual(["test:carol", "role:owner"]);
    expect(second.audit.filter((e) => e.type === "approval_escalated").map((e) => e.approval)).toEqual([
      "id2",
    ]);
    expect(
      await second.approvals.decide("id1", { decision: "approve", by: "test:carol", scope: "once" }),
    ).toMatchObject({
      ok: true,
    });
  });

  it("nextStep: escalation only when due before expiry, pending, unvoted and not yet done", async () => {
    const rec: ApprovalRecord = {
      ...REQ,
      id: "x",
      createdAt: 0,
      expiresAt: 30 * MIN,
      votes: [],
      state: "pending",
    };
    expect(nextStep(rec)).toEqual({ kind: "escalate", at: 10 * MIN });
    expect(nextStep({ ...rec, escalatedTo: [] })).toEqual({ kind: "remind", at: 24 * MIN });
    expect(nextStep({ ...rec, escalate: { afterMs: 30 * MIN, to: ["role:owner"] } })).toEqual({
      kind: "remind",
      at: 24 * MIN,
    });
    expect(nextStep({ ...rec, escalate: { afterMs: 25 * MIN, to: ["role:owner"] } })).toEqual({
      kind: "remind",
      at: 24 * MIN,
    });
    expect(nextStep({ ...rec, state: "approved" })).toEqual({ kind: "expire", at: 30 * MIN });
    expect(nextStep({ ...rec, escalatedTo: [], remindedAt: 1 })).toEqual({ kind: "expire", at: 30 * MIN });
  });
});
