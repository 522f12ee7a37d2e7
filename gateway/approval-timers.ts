/**
 * Time-driven changes of an approval (part of the approvals engine, `approvals.ts`): one wake-up per
 * approval for whatever `escalation.ts` says is next (escalation, reminder or expiry), and expiry
 * on read for rows whose time is up. Nothing here comes from the agent: the times are the gateway's
 * clock and the policy's timeouts. Every replica may arm the same approval; each change is a
 * compare-and-set, so exactly one of them expires, escalates or reminds.
 */
import { attend, nextStep } from "./escalation.js";
import type { Approver } from "./approver.js";
import type { ApprovalRecord, Store } from "./store.js";

/** The default `schedule`: a timer that does not keep the process alive. */
function unrefTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
}

/** What the timers need from the approvals engine. */
export interface ApprovalTimersDeps {
  readonly store: Store;
  readonly audit: (entry: Record<string, unknown>) => void;
  readonly approver?: Approver;
  readonly now: () => number;
  /** `ApprovalsOptions.schedule`; default an unref'd `setTimeout`. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /**
   * The engine's compare-and-set: audited as `event` with `extra` and announced when it wins (the
   * Approver is told only when `tell`); undefined when the row changed first.
   */
  readonly change: (
    prev: ApprovalRecord,
    next: ApprovalRecord,
    event: string,
    extra?: Record<string, unknown>,
    tell?: boolean,
  ) => Promise<ApprovalRecord | undefined>;
}

export function createApprovalTimers(deps: ApprovalTimersDeps) {
  const { store, audit, approver, now, change } = deps;
  const schedule = deps.schedule ?? unrefTimer;
  /** One wake-up per approval (escalation, reminder or expiry, whichever is next): its cancel. */
  const timers = new Map<string, () => void>();
  let closing = false;
  const attendDeps = {
    change: (prev: ApprovalRecord, next: ApprovalRecord, event: string, extra: Record<string, unknown>) =>
      change(prev, next, event, extra, false),
    audit,
    approver,
    now,
  };

  function arm(rec: ApprovalRecord): void {
    if (timers.has(rec.id) || closing) return;
    const delay = Math.max(0, nextStep(rec).at - now());
    // setTimeout overflows past ~24.8 days; re-arm in steps so long timeouts still fire.
    const cancel = schedule(
      () => {
        timers.delete(rec.id);
        void due(rec.id).catch(() => undefined);
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timers.set(rec.id, cancel);
  }

  /** A timer fired: expire, escalate or remind, whichever is due (every replica may try; one wins). */
  async function due(id: string): Promise<void> {
    const cur = await store.getApproval(id);
    if (!cur || (cur.state !== "pending" && cur.state !== "approved")) return;
    if (cur.expiresAt <= now()) {
      await expireIfDue(cur);
      return;
    }
    const step = nextStep(cur);
    if (step.at > now() || step.kind === "expire") return arm(cur);
    const done = await attend(cur, step.kind, attendDeps);
    arm(done ?? (await store.getApproval(id)) ?? cur);
  }

  /** The row as it stands once an overdue approval is expired (by us or by whoever was first). */
  async function expireIfDue(rec: ApprovalRecord): Promise<ApprovalRecord> {
    if ((rec.state !== "pending" && rec.state !== "approved") || rec.expiresAt > now()) return rec;
    const expired = await change(rec, { ...rec, state: "expired" }, "approval_expired");
    return expired ?? (await store.getApproval(rec.id)) ?? rec;
  }

  return {
    arm,
    expireIfDue,

    /** Cancels the wake-up of `id` (its row is decided). */
    disarm(id: string): void {
      timers.get(id)?.();
      timers.delete(id);
    },

    /** Cancels every wake-up; nothing is armed afterwards. */
    shutdown(): void {
      closing = true;
      for (const cancel of timers.values()) cancel();
      timers.clear();
    },
  };
}
