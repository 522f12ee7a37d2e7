/**
 * Held requests. Untrusted inputs: the agent's request (it chooses method, URL, headers, body and
 * reason) and the `by` of every vote (whoever reaches the control API or a chat button). We
 * guarantee: an approval is bound to one fingerprint (`held-request.ts`) and lets at most one request
 * through, carrying exactly the held body it was made for; only listed approvers count, each once;
 * any deny, an expiry, an approver that cannot be told, a lost body, or a shutdown refuses the
 * request. Per agent at most `maxPending` approvals wait, and held bodies stay under `maxHeldBytes`
 * in total: beyond that the request is refused before any card is sent.
 */
import { randomUUID } from "node:crypto";
import {
  type ApprovalsOptions,
  DEFAULT_LIMITS,
  type DecideInput,
  type DecideResult,
  type HeldRequest,
  type HoldLimit,
  type HoldOutcome,
  type HoldRequest,
} from "./approval-types.js";
import { toView } from "./approval-view.js";
import { attend, nextStep } from "./escalation.js";
import type { ApprovalView } from "./approver.js";
import { bodyDigest, memoryHeldBodies } from "./held-bodies.js";
import type { ApprovalRecord, ApprovalState } from "./store.js";

export * from "./approval-types.js";

const EMPTY = Buffer.alloc(0);

/** The default `schedule`: a timer that does not keep the process alive. */
function unrefTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
}

type Waiter = (o: HoldOutcome) => void;

/** Store topic on which every change of an approval's state is announced, with its id. */
export const APPROVALS_TOPIC = "approvals";
/** Compare-and-set retries before a vote gives up as a conflict (each retry re-reads the row). */
const MAX_RACES = 8;
/** How often rows with requests waiting on this replica are re-read (the NOTIFY backstop). */
const SWEEP_MS = 1000;

/**
 * Creates the approvals engine; call `resume()` once at start to re-arm timers of stored approvals.
 * Replicas sharing a store each run one: a row changes only by compare-and-set, every change is
 * announced on `APPROVALS_TOPIC`, and whichever replica holds the waiting request re-reads the row
 * and releases it. "Used once" is the one compare-and-set from approved to used that succeeds.
 */
export function createApprovals(opts: ApprovalsOptions) {
  const { store, audit, approver, roles, now = Date.now, newId = randomUUID } = opts;
  const bodies = opts.bodies ?? memoryHeldBodies();
  const limits = opts.limits ?? (() => DEFAULT_LIMITS);
  const schedule = opts.schedule ?? unrefTimer;
  const waiters = new Map<string, Waiter[]>();
  /** One wake-up per approval (escalation, reminder or expiry, whichever is next): its cancel. */
  const timers = new Map<string, () => void>();
  let closing = false;

  function announce(rec: ApprovalRecord, event: string, extra: Record<string, unknown>, tell = true): void {
    audit({
      type: event,
      approval: rec.id,
      agent: rec.agent,
      policy: rec.policy,
      rule: rec.rule,
      state: rec.state,
      ...extra,
    });
    if (tell && event !== "approval_requested") approver?.updated?.(toView(rec)).catch(() => undefined);
    store.notify(APPROVALS_TOPIC, rec.id).catch(() => undefined);
  }

  /** `prev` → `next` if nobody changed the row meanwhile; audited and announced only then. */
  async function change(
    prev: ApprovalRecord,
    next: ApprovalRecord,
    event: string,
    extra: Record<string, unknown> = {},
    tell = true,
  ): Promise<ApprovalRecord | undefined> {
    if (!(await store.casApproval(prev, next))) return undefined;
    announce(next, event, extra, tell);
    return next;
  }
  const attendDeps = {
    change: (prev: ApprovalRecord, next: ApprovalRecord, event: string, extra: Record<string, unknown>) =>
      change(prev, next, event, extra, false),
    audit,
    approver,
    now,
  };

  /**
   * The row `id` may have changed (here or on another replica): answer the requests waiting here.
   * Pending: nothing to do. Approved: one compare-and-set to used releases the first waiter; when
   * another replica won it, ours are refused. Anything else refuses them with its outcome.
   */
  async function wake(id: string): Promise<void> {
    const rec = await store.getApproval(id);
    if (!rec || rec.state === "pending") return;
    timers.get(id)?.();
    timers.delete(id);
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
  const unlisten = store.listen(APPROVALS_TOPIC, (id) => void wake(id).catch(() => undefined));
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

  /**
   * Attaches the held body to an approval a waiter won; a body that is gone or altered refuses,
   * unless the request itself carried the same bytes (a retry through another replica, whose spool
   * the held copy may be in: same fingerprint, so same digest — checked again here).
   */
  async function collect(o: HoldOutcome, own?: Buffer): Promise<HoldOutcome> {
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
  }

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

  function wait(id: string, signal?: AbortSignal): Promise<HoldOutcome> {
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
  }

  async function isAllowed(by: string, approvers: readonly string[]): Promise<boolean> {
    for (const a of approvers) {
      if (a === by) return true;
      if (a.startsWith("role:") && roles && (await roles.hasRole(by, a.slice(5))) === true) return true;
    }
    return false;
  }

  /** One vote against the row as read; undefined when the row changed under us (read again). */
  async function vote(
    found: ApprovalRecord,
    id: string,
    input: DecideInput,
  ): Promise<DecideResult | undefined> {
    const rec = await expireIfDue(found);
    if (rec.state !== "pending") {
      return { ok: false, status: 409, code: "already_decided", message: `approval is ${rec.state}` };
    }
    if (!(await isAllowed(input.by, rec.approvers))) {
      audit({ type: "approval_vote_refused", approval: id, by: input.by, reason: "not_an_approver" });
      return {
        ok: false,
        status: 403,
        code: "not_an_approver",
        message: `${input.by} may not decide this approval`,
      };
    }
    if (rec.votes.some((v) => v.by === input.by)) {
      return { ok: false, status: 409, code: "already_voted", message: `${input.by} already voted` };
    }
    if (input.decision === "approve" && input.scope === "grant" && !rec.grantMs) {
      return { ok: false, status: 400, code: "no_grant", message: "this rule offers no grant window" };
    }
    const votes = [...rec.votes, { ...input, at: now() }];
    const approvals = votes.filter((v) => v.decision === "approve");
    let state: ApprovalState = "pending";
    if (input.decision === "deny") state = "denied";
    else if (approvals.length >= rec.needed) state = "approved";
    const next = await change(rec, { ...rec, votes, state }, "approval_vote", {
      by: input.by,
      decision: input.decision,
      scope: input.scope,
    });
    if (!next) return undefined;
    // A grant needs every approving voter to have chosen it: one "once" keeps it to this request.
    if (state === "approved" && rec.grantMs && approvals.every((v) => v.scope === "grant")) {
      await store.putGrant(rec.agent, rec.policy, rec.rule, now() + rec.grantMs);
      audit({
        type: "grant_created",
        approval: id,
        agent: rec.agent,
        policy: rec.policy,
        rule: rec.rule,
        ms: rec.grantMs,
      });
    }
    return { ok: true, approval: toView((await store.getApproval(id)) ?? next) };
  }

  return {
    /**
     * Holds a request until it is decided; returns at once when a grant or unused approval covers it.
     * `body` is handed over: it is sealed away and not kept in memory while the request waits.
     */
    async hold(req: HoldRequest, signal?: AbortSignal, body?: Buffer): Promise<HoldOutcome> {
      if (closing) return { outcome: "shutting_down", approval: "" };
      const t = now();
      if (((await store.grantUntil(req.agent, req.policy, req.rule)) ?? 0) > t)
        return { outcome: "approved", via: "grant", body };
      for (let race = 0; race < MAX_RACES; race++) {
        const found = await store.findApproval(req.fingerprint, ["approved", "pending"]);
        const existing = found && (await expireIfDue(found));
        if (existing?.state === "approved") {
          // Same fingerprint, so this request's body has the digest the approval was made for.
          if (!(await change(existing, { ...existing, state: "used" }, "approval_used"))) continue;
          void bodies.drop(existing.id);
          return { outcome: "approved", approval: existing.id, via: "vote", body };
        }
        if (existing?.state === "pending") {
          arm(existing);
          audit({ type: "approval_joined", approval: existing.id, agent: req.agent });
          const own = body;
          body = undefined; // the held copy goes out if approved (ours if that copy is out of reach)
          return collect(await wait(existing.id, signal), own);
        }
        break;
      }
      const bytes = body?.length ?? 0;
      const { timeoutMs, ...rest } = req;
      const id = newId();
      const rec: ApprovalRecord = {
        ...rest,
        id,
        createdAt: t,
        expiresAt: t + timeoutMs,
        votes: [],
        state: "pending",
        bodyDigest: bodyDigest(body ?? EMPTY),
        bodyBytes: bytes,
        bodyAt: bodies.placeFor(bytes),
      };
      const limit: HoldLimit | undefined = await store.insertApproval(rec, limits());
      if (limit) {
        audit({
          type: "approval_refused",
          reason: "too_many_pending",
          limit,
          agent: req.agent,
          policy: req.policy,
          rule: req.rule,
          method: req.method,
          host: req.host,
          path: req.path,
        });
        return { outcome: "too_many_pending", limit };
      }
      announce(rec, "approval_requested", {
        method: req.method,
        host: req.host,
        path: req.path,
        bodyBytes: bytes,
      });
      const writing = body ? bodies.put(id, body) : Promise.resolve();
      body = undefined;
      arm(rec);
      const pending = wait(id, signal);
      const refuse = async (event: string): Promise<void> => {
        for (let race = 0; race < MAX_RACES; race++) {
          const cur = await store.getApproval(id);
          if (cur?.state !== "pending" || (await change(cur, { ...cur, state: "denied" }, event))) return;
        }
      };
      try {
        await writing;
      } catch {
        await refuse("approval_body_unwritable");
        return collect(await pending);
      }
      if (approver) {
        try {
          await approver.requested(toView(rec));
        } catch {
          // No channel could reach an approver: nobody can say yes, so say no now.
          await refuse("approval_undeliverable");
          const o = await pending;
          if (o.outcome === "approved") void bodies.drop(id);
          return { outcome: "unavailable", approval: id };
        }
      }
      return collect(await pending);
    },

    /** The held request behind an approval: its record and, while it can still go out, its body. */
    async held(id: string): Promise<HeldRequest | undefined> {
      const rec = await store.getApproval(id);
      if (!rec) return undefined;
      if ((rec.state !== "pending" && rec.state !== "approved") || rec.bodyDigest === undefined)
        return { record: rec, body: null };
      const body = await bodies.take(id, rec.bodyAt ?? "none", rec.bodyDigest).catch(() => null);
      return { record: rec, body };
    },

    /**
     * Refuses a pending approval for a reason that is nobody's vote (`event`, e.g. the replica that
     * draws cards could reach no approver). False when it was no longer pending.
     */
    async refuse(id: string, event: string): Promise<boolean> {
      for (let race = 0; race < MAX_RACES; race++) {
        const cur = await store.getApproval(id);
        if (cur?.state !== "pending") return false;
        if (await change(cur, { ...cur, state: "denied" }, event)) return true;
      }
      return false;
    },

    /** Applies one person's vote. Never throws for bad input; see `DecideResult`. */
    async decide(id: string, input: DecideInput): Promise<DecideResult> {
      for (let race = 0; race < MAX_RACES; race++) {
        const found = await store.getApproval(id);
        if (!found) return { ok: false, status: 404, code: "not_found", message: "no such approval" };
        const result = await vote(found, id, input);
        if (result) return result;
      }
      return { ok: false, status: 409, code: "conflict", message: "the approval kept changing; try again" };
    },

    async list(state?: ApprovalState): Promise<ApprovalView[]> {
      const out: ApprovalView[] = [];
      for (const r of await store.listApprovals(state)) {
        const v = toView(await expireIfDue(r));
        if (!state || v.state === state) out.push(v);
      }
      return out;
    },

    async get(id: string): Promise<ApprovalView | undefined> {
      const r = await store.getApproval(id);
      return r && toView(r);
    },

    /** Re-arms expiry timers for approvals left pending by a previous run (or another replica). */
    async resume(): Promise<void> {
      for (const r of await store.listApprovals("pending")) arm(await expireIfDue(r));
      for (const r of await store.listApprovals("approved")) arm(await expireIfDue(r));
    },

    /** Answers every held request with `shutting_down`; stored approvals stay pending for a retry. */
    shutdown(): void {
      closing = true;
      unlisten();
      if (sweeper) clearInterval(sweeper);
      for (const cancel of timers.values()) cancel();
      timers.clear();
      for (const [id, list] of waiters) for (const w of list) w({ outcome: "shutting_down", approval: id });
      waiters.clear();
    },
  };
}

export type Approvals = ReturnType<typeof createApprovals>;
