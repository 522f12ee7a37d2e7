/**
 * Held requests. Untrusted inputs: the agent's request (it chooses method, URL, headers, body and
 * reason) and the `by` of every vote (whoever reaches the control API or a chat button). We
 * guarantee: an approval is bound to one fingerprint (`held-request.ts`) and lets at most one request
 * through, carrying exactly the held body it was made for; only listed approvers count, each once;
 * any deny, an expiry, an approver that cannot be told, a lost body, or a shutdown refuses the
 * request. Per agent at most `maxPending` approvals wait, and held bodies stay under `maxHeldBytes`
 * in total: beyond that the request is refused before any card is sent. Requests waiting on this
 * replica are released by `approval-waiters.ts`; expiry, escalation and reminders are in
 * `approval-timers.ts`.
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
import { createApprovalTimers } from "./approval-timers.js";
import { toView } from "./approval-view.js";
import { createApprovalWaiters } from "./approval-waiters.js";
import type { ApprovalView } from "./approver.js";
import { bodyDigest, memoryHeldBodies } from "./held-bodies.js";
import type { ApprovalRecord, ApprovalState } from "./store.js";

export * from "./approval-types.js";

const EMPTY = Buffer.alloc(0);

/** Store topic on which every change of an approval's state is announced, with its id. */
export const APPROVALS_TOPIC = "approvals";
/** Compare-and-set retries before a vote gives up as a conflict (each retry re-reads the row). */
const MAX_RACES = 8;

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
  const timers = createApprovalTimers({ store, audit, approver, now, schedule: opts.schedule, change });
  const { arm, expireIfDue } = timers;
  const waiters = createApprovalWaiters({ store, bodies, audit, change, disarm: timers.disarm });
  const { wait, collect } = waiters;
  const unlisten = store.listen(APPROVALS_TOPIC, (id) => void waiters.wake(id).catch(() => undefined));

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
      timers.shutdown();
      waiters.shutdown();
    },
  };
}

export type Approvals = ReturnType<typeof createApprovals>;
