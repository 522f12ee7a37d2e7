import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ApprovalView, Approver } from "./approver.js";
import { createApprovals, type HoldLimits, type HoldRequest } from "./approvals.js";
import { createHeldBodies, type HeldBodies } from "./held-bodies.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { Store } from "./store.js";
import { Vault } from "./vault.js";

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
  approvers: ["test:alice", "test:bob", "role:admin"],
  timeoutMs: 60_000,
  grantMs: null,
};

function setup(
  opts: {
    approver?: Approver;
    admins?: string[];
    bodies?: (store: Store) => HeldBodies;
    limits?: HoldLimits;
  } = {},
) {
  let t = 1_000_000;
  const store = openSqliteStore(":memory:");
  const audit: Record<string, unknown>[] = [];
  let n = 0;
  const approvals = createApprovals({
    store,
    audit: (e) => void audit.push(e),
    approver: opts.approver,
    roles: { hasRole: (id, role) => role === "admin" && (opts.admins ?? []).includes(id) },
    now: () => t,
    newId: () => `id${++n}`,
    bodies: opts.bodies?.(store),
    limits: opts.limits && (() => opts.limits as HoldLimits),
  });
  return { store, approvals, audit, advance: (ms: number) => (t += ms) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("createApprovals()", () => {
  it("holds until an allowed approver approves, then the approval is used", async () => {
    const { approvals } = setup();
    const held = approvals.hold(REQ);
    await tick();
    expect(await approvals.list("pending")).toHaveLength(1);
    expect((await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" })).ok).toBe(
      true,
    );
    expect(await held).toMatchObject({ outcome: "approved", approval: "id1", via: "vote" });
    expect((await approvals.get("id1"))?.state).toBe("used");
  });

  it("refuses votes from people who are not approvers (403) and audits them", async () => {
    const { approvals, audit } = setup();
    void approvals.hold(REQ);
    await tick();
    const r = await approvals.decide("id1", { decision: "approve", by: "test:mallory", scope: "once" });
    expect(r).toMatchObject({ ok: false, status: 403 });
    expect(audit.some((e) => e.type === "approval_vote_refused")).toBe(true);
    expect((await approvals.get("id1"))?.state).toBe("pending");
  });

  it("counts role:admin through the RoleResolver only", async () => {
    const { approvals } = setup({ admins: ["slack:U1"] });
    void approvals.hold(REQ);
    await tick();
    expect(
      await approvals.decide("id1", { decision: "approve", by: "slack:U2", scope: "once" }),
    ).toMatchObject({
      status: 403,
    });
    expect((await approvals.decide("id1", { decision: "approve", by: "slack:U1", scope: "once" })).ok).toBe(
      true,
    );
  });

  it("needs distinct approvers for a quorum; the same person twice is a 409", async () => {
    const { approvals } = setup();
    const held = approvals.hold({ ...REQ, needed: 2 });
    await tick();
    expect((await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" })).ok).toBe(
      true,
    );
    expect(
      await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" }),
    ).toMatchObject({
      status: 409,
    });
    expect((await approvals.get("id1"))?.state).toBe("pending");
    await approvals.decide("id1", { decision: "approve", by: "test:bob", scope: "once" });
    expect((await held).outcome).toBe("approved");
  });

  it("denies on any deny and answers later votes with 409; unknown ids are 404", async () => {
    const { approvals } = setup();
    const held = approvals.hold({ ...REQ, needed: 2 });
    await tick();
    await approvals.decide("id1", { decision: "deny", by: "test:bob", scope: "once" });
    expect((await held).outcome).toBe("denied");
    expect(
      await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" }),
    ).toMatchObject({
      status: 409,
    });
    expect(
      await approvals.decide("nope", { decision: "approve", by: "test:alice", scope: "once" }),
    ).toMatchObject({
      status: 404,
    });
  });

  it("joins an identical pending request instead of creating a second approval", async () => {
    const { approvals } = setup();
    const first = new AbortController();
    const a = approvals.hold(REQ, first.signal);
    await tick();
    first.abort(); // the agent gave up and retries the same request
    expect((await a).outcome).toBe("denied");
    const b = approvals.hold(REQ);
    await tick();
    expect(await approvals.list()).toHaveLength(1);
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" });
    expect(await b).toMatchObject({ outcome: "approved", approval: "id1" });
  });

  it("lets an approval decided while nobody waited be used once by the identical retry", async () => {
    const { approvals, store } = setup();
    const ac = new AbortController();
    const a = approvals.hold(REQ, ac.signal);
    await tick();
    ac.abort();
    await a;
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" });
    expect((await store.getApproval("id1"))?.state).toBe("approved");
    expect(await approvals.hold(REQ)).toMatchObject({ outcome: "approved", approval: "id1" });
    // Single use: the next identical request needs a new approval.
    void approvals.hold(REQ);
    await tick();
    expect((await approvals.list("pending")).map((v) => v.id)).toEqual(["id2"]);
  });

  it("a different fingerprint never rides on someone else's approval", async () => {
    const { approvals } = setup();
    void approvals.hold(REQ);
    void approvals.hold({ ...REQ, fingerprint: "fp2" });
    await tick();
    expect(await approvals.list("pending")).toHaveLength(2);
  });

  it("expires after the timeout and refuses late votes", async () => {
    const { approvals, advance } = setup();
    const held = approvals.hold({ ...REQ, timeoutMs: 5 });
    await tick();
    advance(10);
    expect(
      await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" }),
    ).toMatchObject({
      status: 409,
    });
    expect((await held).outcome).toBe("expired");
  });

  it("grants the rule for the window only when every approver chose grant", async () => {
    const { approvals, advance } = setup();
    const held = approvals.hold({ ...REQ, grantMs: 60_000 });
    await tick();
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "grant" });
    await held;
    expect(await approvals.hold({ ...REQ, fingerprint: "other" })).toEqual({
      outcome: "approved",
      via: "grant",
    });
    advance(61_000);
    void approvals.hold({ ...REQ, fingerprint: "later" });
    await tick();
    expect(await approvals.list("pending")).toHaveLength(1);
  });

  it("gives no grant when one of a quorum's approvers chose once", async () => {
    const { approvals } = setup();
    const held = approvals.hold({ ...REQ, needed: 2, grantMs: 60_000 });
    await tick();
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "grant" });
    await approvals.decide("id1", { decision: "approve", by: "test:bob", scope: "once" });
    expect((await held).outcome).toBe("approved");
    void approvals.hold({ ...REQ, fingerprint: "next" });
    await tick();
    expect(await approvals.list("pending")).toHaveLength(1); // asked again: no grant window opened
  });

  it("refuses scope grant on a rule without a grant window (400)", async () => {
    const { approvals } = setup();
    void approvals.hold(REQ);
    await tick();
    expect(
      await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "grant" }),
    ).toMatchObject({
      status: 400,
    });
  });

  it("denies at once when the Approver cannot deliver the card (fail closed)", async () => {
    const approver: Approver = { requested: async () => Promise.reject(new Error("no channel")) };
    const { approvals } = setup({ approver });
    expect((await approvals.hold(REQ)).outcome).toBe("unavailable");
    expect((await approvals.get("id1"))?.state).toBe("denied");
  });

  it("tells the Approver about new approvals and every change", async () => {
    const seen: string[] = [];
    const approver: Approver = {
      requested: async (v: ApprovalView) => void seen.push(`new:${v.state}`),
      updated: async (v: ApprovalView) => void seen.push(`upd:${v.state}`),
    };
    const { approvals } = setup({ approver });
    const held = approvals.hold(REQ);
    await tick();
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" });
    await held;
    expect(seen).toEqual(["new:pending", "upd:approved", "upd:used"]);
  });

  it("answers held requests with shutting_down and keeps the approval pending for a retry", async () => {
    const { approvals, store } = setup();
    const held = approvals.hold(REQ);
    await tick();
    approvals.shutdown();
    expect((await held).outcome).toBe("shutting_down");
    expect((await store.getApproval("id1"))?.state).toBe("pending");
  });
});

describe("held bodies and limits", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  async function spooled(setupOpts: { limits?: HoldLimits; approver?: Approver } = {}) {
    const dir = await mkdtemp(join(tmpdir(), "warden-held-"));
    dirs.push(dir);
    const sealer = Vault.fromKey(randomBytes(32));
    const bodies = (store: Store) => createHeldBodies({ dir, sealer, store, spoolAbove: 16 });
    return { dir, ...setup({ ...setupOpts, bodies }) };
  }
  const files = async (dir: string) =>
    (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".body"));
  /** Waits (file writes and deletes are asynchronous) until `dir` holds `n` body files. */
  async function untilFiles(dir: string, n: number): Promise<string[]> {
    for (let i = 0; i < 200; i++) {
      const f = await files(dir);
      if (f.length === n) return f;
      await new Promise((r) => setTimeout(r, 10));
    }
    return files(dir);
  }

  it("forwards exactly the held bytes after approval and then deletes them", async () => {
    const { approvals, dir } = await spooled();
    const body = Buffer.from("a body longer than the sixteen-byte spool threshold");
    const held = approvals.hold(REQ, undefined, body);
    expect(await untilFiles(dir, 1)).toEqual(["id1.body"]);
    expect((await approvals.held("id1"))?.body?.equals(body)).toBe(true);
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" });
    const out = await held;
    expect(out.outcome === "approved" && out.body?.equals(body)).toBe(true);
    expect(await untilFiles(dir, 0)).toEqual([]);
    expect((await approvals.held("id1"))?.body).toBeNull();
  });

  it("refuses (fail closed) when the held body was tampered with", async () => {
    const { approvals, dir } = await spooled();
    const held = approvals.hold(REQ, undefined, Buffer.alloc(100, 1));
    await untilFiles(dir, 1);
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dir, "id1.body"), Buffer.alloc(100 + 29, 7));
    await approvals.decide("id1", { decision: "approve", by: "test:alice", scope: "once" });
    expect(await held).toMatchObject({ outcome: "unavailable" });
  });

  it("deletes the body when denied or expired", async () => {
    const { approvals, dir, advance } = await spooled();
    const a = approvals.hold(REQ, undefined, Buffer.alloc(100, 1));
    const b = approvals.hold({ ...REQ, fingerprint: "fp2", timeoutMs: 5 }, undefined, Buffer.alloc(100, 2));
    expect(await untilFiles(dir, 2)).toHaveLength(2);
    await approvals.decide("id1", { decision: "deny", by: "test:alice", scope: "once" });
    advance(10);
    await approvals.list();
    expect((await a).outcome).toBe("denied");
    expect((await b).outcome).toBe("expired");
    expect(await untilFiles(dir, 0)).toEqual([]);
  });

  it("refuses the agent's max_pending+1st approval with no card; joining does not count", async () => {
    const requested: string[] = [];
    const approver: Approver = { requested: async (v) => void requested.push(v.id) };
    const { approvals, audit } = await spooled({ limits: { maxPending: 2, maxHeldBytes: 1e9 }, approver });
    void approvals.hold(REQ);
    void approvals.hold(REQ); // joins id1
    void approvals.hold({ ...REQ, fingerprint: "fp2" });
    await tick();
    expect(await approvals.hold({ ...REQ, fingerprint: "fp3" })).toEqual({
      outcome: "too_many_pending",
      limit: "max_pending",
    });
    // Another agent has its own allowance.
    void approvals.hold({ ...REQ, agent: "a2", fingerprint: "fp4" });
    await tick();
    // id4 was drawn for the refused hold (the limit is checked as the row is inserted) and burned.
    expect(requested).toEqual(["id1", "id2", "id5"]);
    expect(audit.some((e) => e.type === "approval_refused" && e.limit === "max_pending")).toBe(true);
  });

  it("refuses a hold that would take held bodies over max_held_bytes, across agents", async () => {
    const { approvals } = await spooled({ limits: { maxPending: 100, maxHeldBytes: 250 } });
    void approvals.hold(REQ, undefined, Buffer.alloc(100));
    void approvals.hold({ ...REQ, agent: "a2", fingerprint: "fp2" }, undefined, Buffer.alloc(100));
    await tick();
    expect(
      await approvals.hold({ ...REQ, agent: "a3", fingerprint: "fp3" }, undefined, Buffer.alloc(51)),
    ).toEqual({ outcome: "too_many_pending", limit: "max_held_bytes" });
    await approvals.decide("id1", { decision: "deny", by: "test:alice", scope: "once" });
    void approvals.hold({ ...REQ, agent: "a3", fingerprint: "fp3" }, undefined, Buffer.alloc(51));
    await tick();
    expect((await approvals.list("pending")).map((v) => v.id)).toEqual(["id2", "id4"]); // id3 was refused
  });
});
