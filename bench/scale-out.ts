/**
 * Scale-out figures (issue #13), side by side in one run: audit rows per second and approvals
 * decided per second on SQLite, on PostgreSQL with one replica, and with two replicas on one
 * database (the second replica decides, or writes every other audit row); and the release latency
 * of a held request across replicas (decided on B, released on A) against the same on one SQLite
 * process. The approvals engine and the stores are Warden's own; PostgreSQL is a throwaway cluster
 * on 127.0.0.1 (fsync off, as in the tests). Skipped with a line when PostgreSQL is not installed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApprovals, type HoldRequest } from "../gateway/approvals.js";
import { openPostgresStore } from "../gateway/postgres/postgres-store.js";
import { openSqliteStore } from "../gateway/sqlite-store.js";
import type { Store } from "../gateway/store.js";
import { postgresBin, startPostgres } from "../test/support/postgres.js";
import { percentile } from "./load.js";

const AUDIT_ROWS = 5000;
const APPROVALS = 300;
const RELEASES = 60;

const req = (i: number): HoldRequest => ({
  agent: "bench",
  fingerprint: `fp-${i}-${Math.random()}`,
  method: "POST",
  url: "https://pay.test/pay",
  host: "pay.test",
  path: "/pay",
  policy: "p",
  rule: "r",
  bodyPreview: "",
  reason: null,
  timeoutMs: 600_000,
  needed: 1,
  approvers: ["bench:alice"],
  grantMs: null,
});

const engine = (store: Store) =>
  createApprovals({ store, audit: (e) => store.appendAudit(e, Date.now()), limits: () => LIMITS });
const LIMITS = { maxPending: 100_000, maxHeldBytes: 1e12 };

async function auditRate(writers: Store[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < AUDIT_ROWS; i++)
    writers[i % writers.length]?.appendAudit({ type: "request", i }, Date.now());
  await Promise.all(writers.map((w) => w.flushAudit()));
  const v = await writers[0]?.verifyAudit();
  if (!v?.ok) throw new Error("audit chain broken in the bench");
  return AUDIT_ROWS / ((performance.now() - t0) / 1000);
}

/** Holds APPROVALS requests on `holder`, then decides them all on `decider`: decisions per second. */
async function decideRate(holder: Store, decider: Store): Promise<number> {
  const a = engine(holder);
  const b = decider === holder ? a : engine(decider);
  const held = [...Array(APPROVALS).keys()].map((i) => a.hold(req(i)));
  let ids: string[] = [];
  for (let i = 0; i < 200 && ids.length < APPROVALS; i++) {
    ids = (await holder.listApprovals("pending")).map((r) => r.id);
    if (ids.length < APPROVALS) await new Promise((r) => setTimeout(r, 25));
  }
  const t0 = performance.now();
  await Promise.all(ids.map((id) => b.decide(id, { decision: "approve", by: "bench:alice", scope: "once" })));
  const rate = ids.length / ((performance.now() - t0) / 1000);
  await Promise.all(held);
  a.shutdown();
  b.shutdown();
  return rate;
}

/** Decided on `decider`, released on `holder`: ms from the decision's answer to the release. */
async function releaseLatency(holder: Store, decider: Store): Promise<number[]> {
  const a = engine(holder);
  const b = decider === holder ? a : engine(decider);
  const out: number[] = [];
  for (let i = 0; i < RELEASES; i++) {
    let released = 0;
    const held = a.hold(req(i)).then(() => {
      released = performance.now();
    });
    let id: string | undefined;
    while (!id) {
      id = (await holder.listApprovals("pending"))[0]?.id;
      if (!id) await new Promise((r) => setTimeout(r, 5));
    }
    await b.decide(id, { decision: "approve", by: "bench:alice", scope: "once" });
    const decided = performance.now();
    await held;
    out.push(Math.max(0, released - decided));
  }
  a.shutdown();
  b.shutdown();
  return out.sort((x, y) => x - y);
}

export async function benchScaleOut(): Promise<string[]> {
  const lines = [
    "Scale-out (issue #13): the same work on SQLite, PostgreSQL with one replica, and two replicas:",
  ];
  if (!("bin" in postgresBin())) return [...lines, "  skipped: PostgreSQL is not installed"];
  const dir = mkdtempSync(join(tmpdir(), "warden-bench-scale-"));
  const pg = await startPostgres();
  try {
    const sqlite = () => openSqliteStore(join(mkdtempSync(join(dir, "s-")), "warden.db"));
    const pair = async (): Promise<[Store, Store]> => {
      const url = await pg.schema();
      return [await openPostgresStore({ url }), await openPostgresStore({ url })];
    };
    const fmt = (n: number) => `${Math.round(n).toLocaleString("en")}/s`;
    const ms = (xs: number[]) =>
      `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;

    const s1 = sqlite();
    const [p1] = await pair();
    const [q1, q2] = await pair();
    const audit = {
      sqlite: await auditRate([s1]),
      one: await auditRate([p1 as Store]),
      two: await auditRate([q1, q2]),
    };
    lines.push(
      `  audit rows: SQLite ${fmt(audit.sqlite)}; PostgreSQL 1 replica ${fmt(audit.one)} (×${(audit.one / audit.sqlite).toFixed(2)}); 2 replicas ${fmt(audit.two)} (×${(audit.two / audit.sqlite).toFixed(2)})`,
    );
    const decide = {
      sqlite: await decideRate(s1, s1),
      one: await decideRate(p1 as Store, p1 as Store),
      two: await decideRate(q1, q2),
    };
    lines.push(
      `  approvals decided: SQLite ${fmt(decide.sqlite)}; PostgreSQL 1 replica ${fmt(decide.one)} (×${(decide.one / decide.sqlite).toFixed(2)}); 2 replicas, decided on the other ${fmt(decide.two)} (×${(decide.two / decide.sqlite).toFixed(2)})`,
    );
    const local = await releaseLatency(s1, s1);
    const across = await releaseLatency(q1, q2);
    lines.push(
      `  held request released after the decision: SQLite, same process ${ms(local)}; PostgreSQL, decided on replica B and released on A ${ms(across)} (bound: 2 s)`,
    );
    await Promise.all([s1, p1 as Store, q1, q2].map((s) => s.close()));
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}
