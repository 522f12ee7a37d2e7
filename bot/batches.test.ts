import { describe, expect, it } from "vitest";
import { openDatabase } from "../gateway/index.js";
import type { ApprovalView } from "../gateway/index.js";
import { batchActionData, buildBatchCard, parseBatchAction } from "./batch-cards.js";
import { batchKey, createBatches, DEFAULT_BATCH_WINDOW_MS, newBatchId, parseBatchWindow } from "./batches.js";
import { createBotStore } from "./bot-store.js";

let seq = 0;
const view = (over: Partial<ApprovalView> = {}): ApprovalView => ({
  id: `00000000-0000-4000-8000-${String(++seq).padStart(12, "0")}`,
  agent: "demo",
  method: "POST",
  url: "https://api.example.test/v1/things",
  host: "api.example.test",
  path: "/v1/things",
  policy: "example",
  rule: "write",
  bodyPreview: "{}",
  reason: null,
  createdAt: "2030-01-01T00:00:00Z",
  expiresAt: "2030-01-01T00:15:00Z",
  needed: 1,
  approvals: [],
  approvers: ["role:approver"],
  grantMs: null,
  state: "pending",
  ...over,
});

function world(windowMs = DEFAULT_BATCH_WINDOW_MS, maxItems?: number) {
  const clock = { t: 1_000_000 };
  const store = createBotStore(openDatabase(":memory:"), { now: () => clock.t });
  const decided = new Set<string>();
  const batches = createBatches({
    store,
    windowMs,
    now: () => clock.t,
    isPending: (id) => !decided.has(id),
    ...(maxItems ? { maxItems } : {}),
  });
  const join = async (v: ApprovalView) => {
    const j = await batches.join(v);
    return j.kind === "batch" ? j : undefined;
  };
  return { clock, store, batches, decided, join };
}

describe("batches: which card a held request joins", () => {
  it("requests of one agent and policy within the window share a batch, in arrival order", async () => {
    const w = world();
    const a = view();
    const b = view();
    const first = await w.join(a);
    w.clock.t += 4000;
    const second = await w.join(b);
    expect(first).toMatchObject({ seq: 0 });
    expect(second).toEqual({ kind: "batch", batch: first?.batch, seq: 1 });
    expect(await w.batches.items(first?.batch as string)).toEqual([a.id, b.id]);
  });

  it("the window slides from the last arrival; a gap longer than it starts a new batch", async () => {
    const w = world(5000);
    const first = await w.join(view());
    w.clock.t += 4900;
    expect((await w.join(view()))?.batch).toBe(first?.batch);
    w.clock.t += 4900;
    expect((await w.join(view()))?.batch).toBe(first?.batch);
    w.clock.t += 5001;
    expect((await w.join(view()))?.batch).not.toBe(first?.batch);
  });

  it("another agent, another policy or other approvers get their own batch", async () => {
    const w = world();
    const base = (await w.join(view()))?.batch;
    for (const other of [{ agent: "other" }, { policy: "github" }, { approvers: ["role:owner"] }])
      expect((await w.join(view(other)))?.batch).not.toBe(base);
    // The order of approver entries does not matter.
    expect(batchKey(view({ approvers: ["a", "b"] }))).toBe(batchKey(view({ approvers: ["b", "a"] })));
  });

  it("a full batch, or one whose items are all decided, takes no more", async () => {
    const w = world(5000, 3);
    const first = (await w.join(view()))?.batch;
    await w.join(view());
    await w.join(view());
    const fourth = await w.join(view());
    expect(fourth?.batch).not.toBe(first);
    expect(fourth?.seq).toBe(0);
    for (const id of await w.batches.items(fourth?.batch as string)) w.decided.add(id);
    expect((await w.join(view()))?.batch).not.toBe(fourth?.batch);
  });

  it("window 0 disables batching; a clock going backwards never joins", async () => {
    expect(await world(0).batches.join(view())).toEqual({ kind: "single" });
    const w = world();
    const first = (await w.join(view()))?.batch;
    w.clock.t -= 1;
    expect((await w.join(view()))?.batch).not.toBe(first);
  });

  it("membership is append-only and survives reopening the store (same database)", async () => {
    const db = openDatabase(":memory:");
    const store = createBotStore(db);
    const opts = { windowMs: 5000, now: () => 1, isPending: () => true };
    const a = view();
    const b = view();
    const j1 = await createBatches({ store, ...opts }).join(a);
    const j2 = await createBatches({ store, ...opts }).join(b);
    expect(j1.kind === "batch" && j2.kind === "batch" && j1.batch === j2.batch).toBe(true);
    // Joining again (a retried `requested`) keeps its place.
    expect(await createBatches({ store: createBotStore(db), ...opts }).join(a)).toMatchObject({ seq: 0 });
    expect(await createBotStore(db).batchItems((j1 as { batch: string }).batch)).toEqual([a.id, b.id]);
  });

  it("concurrent arrivals never overfill a batch: joins run one at a time", async () => {
    const w = world(5000, 2);
    const joined = await Promise.all([view(), view(), view()].map((v) => w.join(v)));
    expect(joined.map((j) => j?.seq)).toEqual([0, 1, 0]);
    expect(joined[1]?.batch).toBe(joined[0]?.batch);
    expect(joined[2]?.batch).not.toBe(joined[0]?.batch);
  });

  it("parses WARDEN_BATCH_WINDOW_MS strictly", () => {
    expect(parseBatchWindow(undefined)).toBe(5000);
    expect(parseBatchWindow("")).toBe(5000);
    expect(parseBatchWindow("0")).toBe(0);
    expect(parseBatchWindow("2500")).toBe(2500);
    for (const bad of ["-1", "5s", "1e3", "0x10", "99999999", "3600001"])
      expect(() => parseBatchWindow(bad)).toThrow(/WARDEN_BATCH_WINDOW_MS/);
  });
});

describe("batch cards and their button data", () => {
  it("button data names the batch and the count drawn, within 64 bytes, parsed strictly", () => {
    const id = newBatchId();
    const data = batchActionData(id, 20, "approve");
    expect(Buffer.byteLength(data)).toBeLessThanOrEqual(64);
    expect(parseBatchAction(data)).toEqual({ batch: id, count: 20, action: "approve" });
    for (const bad of [
      `b:${id}:0:approve`,
      `b:${id}:01:approve`,
      `b:${id}:2:grant`,
      `b:${id}:2:approve `,
      `b:x:2:deny`,
      `b:${id}:-2:deny`,
      `b:${id}:2:deny:extra`,
      42,
    ])
      expect(parseBatchAction(bad)).toBeUndefined();
  });

  it("lists every item in full with its own buttons; Approve all counts what waits and binds the drawn count", () => {
    const views = [view(), view({ state: "approved", approvals: ["fake:1"] }), view({ reason: "to do it" })];
    const card = buildBatchCard("abcdefghijkl", views);
    expect(card.items).toHaveLength(3);
    expect(card.items?.[0]?.title).toBe("1. demo wants to POST api.example.test/v1/things");
    expect(card.items?.[0]?.buttons.map((b) => b.label)).toEqual(["1: Approve", "1: Deny"]);
    expect(card.items?.[1]).toMatchObject({ lines: [], buttons: [], status: "Approved by fake:1" });
    expect(card.items?.[2]?.agentSays).toBe("to do it");
    expect(card.buttons.map((b) => [b.label, parseBatchAction(b.data)])).toEqual([
      ["Approve all (2)", { batch: "abcdefghijkl", count: 3, action: "approve" }],
      ["Deny all (2)", { batch: "abcdefghijkl", count: 3, action: "deny" }],
    ]);
    expect(card.status).toBe("Waiting: 2 of 3");
  });

  it("a batch of one is an ordinary card; a batch with nothing waiting has no buttons", () => {
    expect(buildBatchCard("abcdefghijkl", [view()]).items).toBeUndefined();
    const done = buildBatchCard("abcdefghijkl", [view({ state: "expired" }), view({ state: "denied" })]);
    expect(done.buttons).toEqual([]);
    expect(done.status).toBe("All 2 decided");
  });
});
