/**
 * The requests held on this replica, by approval id, and their release (part of the approvals
 * engine, `approvals.ts`). Whenever a row may have changed — a store notification, the 1-second
 * sweep, a new waiter — the row is re-read and the waiters answered from what it says, never from
 * what the notification claimed. Untrusted: the agent, which may hang up at any time (its abort
 * drops its waiter; the approval stays pending for a retry) and sends the body an approved waiter
 * falls back to. We guarantee: one approval releases at most one waiter (the one compare-and-set
 * from approved to used that succeeds), and an approved waiter carries the held body only when it
 * still matches the approval's digest; otherwise it is refused.
 */
import type { HoldOutcome } from "./approval-types.js";
import { bodyDigest, type HeldBodies } from "./held-bodies.js";
import type { ApprovalRecord, Store } from "./store.js";

type Waiter = (o: HoldOutcome) => void;

/** How often rows with requests waiting on this replica are re-read (the NOTIFY backstop). */
const SWEEP_MS = 1000;

/** What the waiters need from the approvals engine. */
export interface ApprovalWaitersDeps {
  readonly store: Store;
  readonly bodies: HeldBodies;
  readonly audit: (entry: Record<string, unknown>) => void;
  /** The engine's compare-and-set (audited and announced when it wins); undefined when it lost. */
  readonly change: (
    prev: ApprovalRecord,
    next: ApprovalRecord,
    event: string,
  ) => Promise<ApprovalRecord | undefined>;
  /** Cancels the approval's escalation/reminder/expiry wake-up: its row is decided. */
  readonly disarm: (id: string) => void;
}

export function createApprovalWaiters({ store, bodies, audit, change, disarm }: ApprovalWaitersDeps) {
  const waiters = new Map<string, Waiter[]>();
  let closing = false;

  /**
   * The row `id` may have changed (here or on another replica): answer the requests waiting here.
   * Pending: nothing to do. Approved: one compare-and-set to used releases the first waiter; when
   * another replica won it, ours are refused. Anything else refuses them with its outcome.
   */
  async function wake(id: string): Promise<void> {
    const rec = await store.getApproval(id);
    if (!rec || rec.state === "pending") return;
    disarm(id);
    const list = waiters.get(id) ?? [];
    if (list.length === 0) return; // nobody here: the next identical request (any replica) uses it
    waiters.delete(id);
    if (rec.state === "approved") {
      const used = await change(rec, { ...rec, state: "used" }, "approval_used");
      const [first, ...rest] = list;
      // Single use: identical requests that joined do not ride on the same approval.
      if (used && first) first({ outcome: "approved", approval: id, via: "vote" });
      for (const w of used ? rest : list) w({ outcome: "denied", approval: id });
    } else {
      if (rec.state !== "used") void bodies.drop(id);
      const outcome = rec.state === "expired" ? "expired" : "denied";
      for (const w of list) w({ outcome, approval: id });
    }
    // Requests that joined while we were reading wait on a decided row: answer them too.
    if (waiters.get(id)?.length) await wake(id);
  }

  // A notification can be lost (the database connection dropped at that moment): while requests wait
  // here, their rows are also re-read every second, so a decision releases them within 2 s anyway.
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    if (waiters.size === 0 || closing) {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      return;
    }
    for (const id of waiters.keys()) void wake(id).catch(() => undefined);
  };
  const watchWaiters = (): void => {
    sweeper ??= setInterval(sweep, SWEEP_MS).unref();
  };

  return {
    wake,

    /** Resolves once the approval `id` is decided (or `signal` aborts: then "denied"). */
    wait(id: string, signal?: AbortSignal): Promise<HoldOutcome> {
      return new Promise((resolve) => {
        const waiter: Waiter = (o) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(o);
        };
        // The agent hung up: drop the waiter, keep the approval pending so a retry can join it.
        const onAbort = (): void => {
          const list = waiters.get(id)?.filter((w) => w !== waiter) ?? [];
          if (list.length > 0) waiters.set(id, list);
          else waiters.delete(id);
          resolve({ outcome: "denied", approval: id });
        };
        waiters.set(id, [...(waiters.get(id) ?? []), waiter]);
        signal?.addEventListener("abort", onAbort, { once: true });
        watchWaiters();
        // Decided between our read and this registration (another replica is fast): catch up.
        void wake(id).catch(() => undefined);
      });
    },

    /**
     * Attaches the held body to an approval a waiter won; a body that is gone or altered refuses,
     * unless the request itself carried the same bytes (a retry through another replica, whose spool
     * the held copy may be in: same fingerprint, so same digest — checked again here).
     */
    async collect(o: HoldOutcome, own?: Buffer): Promise<HoldOutcome> {
      if (o.outcome !== "approved" || !o.approval) return o;
      const rec = await store.getApproval(o.approval);
      // Rows from before held bodies (no digest): the request's own body, as then.
      if (rec?.bodyDigest === undefined) return { ...o, body: own };
      try {
        return { ...o, body: await bodies.take(o.approval, rec.bodyAt ?? "none", rec.bodyDigest) };
      } catch {
        if (own && bodyDigest(own) === rec.bodyDigest) return { ...o, body: own };
        audit({ type: "approval_body_lost", approval: o.approval, agent: rec.agent });
        return { outcome: "unavailable", approval: o.approval };
      } finally {
        void bodies.drop(o.approval);
      }
    },

    /** Stops the sweep and answers every waiter with `shutting_down`. */
    shutdown(): void {
      closing = true;
      if (sweeper) clearInterval(sweeper);
      for (const [id, list] of waiters) for (const w of list) w({ outcome: "shutting_down", approval: id });
      waiters.clear();
    },
  };
}
