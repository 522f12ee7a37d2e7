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
import type { ApprovalRecord, ApprovalState, Vote } from "./store.js";

export * from "./approval-types.js";

const EMPTY = Buffer.alloc(0);

/** The default `schedule`: a timer that does not keep the process alive. */
function unrefTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
}

type Waiter = (o: HoldOutcome) => void;

/** Creates the approvals engine; call `resume()` once at start to re-arm timers of stored approvals. */
export function createApprovals(opts: ApprovalsOptions) {
  const { store, audit, approver, roles, now = Date.now, newId = randomUUID } = opts;
  const bodies = opts.bodies ?? memoryHeldBodies();
  const limits = opts.limits ?? (() => DEFAULT_LIMITS);
  const schedule = opts.schedule ?? unrefTimer;
  const waiters = new Map<string, Waiter[]>();
  /** One wake-up per approval (escalation, reminder or expiry, whichever is next): its cancel. */
  const timers = new Map<string, () => void>();
  const attendDeps = { store, audit, approver, now };
  let closing = false;

  function save(rec: ApprovalRecord, event: string, extra: Record<string, unknown> = {}): ApprovalRecord {
    store.putApproval(rec);
    audit({
      type: event,
      approval: rec.id,
      agent: rec.agent,
      policy: rec.policy,
      rule: rec.rule,
      state: rec.state,
      ...extra,
    });
    if (event !== "approval_requested") notify(rec);
    return rec;
  }

  function notify(rec: ApprovalRecord): void {
    approver?.updated?.(toView(rec)).catch(() => undefined);
  }

  function settle(rec: ApprovalRecord): void {
    timers.get(rec.id)?.();
    timers.delete(rec.id);
    const list = waiters.get(rec.id) ?? [];
    waiters.delete(rec.id);
    if (rec.state === "approved") {
      const [first, ...rest] = list;
      if (!first) return; // nobody waiting (e.g. after a restart): the next identical request uses it
      save({ ...rec, state: "used" }, "approval_used");
      first({ outcome: "approved", approval: rec.id, via: "vote" });
      // Single use: identical requests that joined do not ride on the same approval.
      for (const w of rest) w({ outcome: "denied", approval: rec.id });
      return;
    }
    const outcome = rec.state === "expired" ? "expired" : "denied";
    void bodies.drop(rec.id);
    for (const w of list) w({ outcome, approval: rec.id });
  }

  /** Attaches the held body to an approval a waiter won; a body that is gone or altered refuses. */
  async function collect(o: HoldOutcome, own?: Buffer): Promise<HoldOutcome> {
    if (o.outcome !== "approved" || !o.approval) return o;
    const rec = store.getApproval(o.approval);
    // Rows from before held bodies (no digest): the request's own body, as then.
    if (rec?.bodyDigest === undefined) return { ...o, body: own };
    try {
      return { ...o, body: await bodies.take(o.approval, rec.bodyAt ?? "none", rec.bodyDigest) };
    } catch {
      audit({ type: "approval_body_lost", approval: o.approval, agent: rec.agent });
      return { outcome: "unavailable", approval: o.approval };
    } finally {
      void bodies.drop(o.approval);
    }
  }

  function overLimit(agent: string, bytes: number): HoldLimit | undefined {
    const l = limits();
    if (store.countPending(agent) >= l.maxPending) return "max_pending";
    if (store.heldBytes() + bytes > l.maxHeldBytes) return "max_held_bytes";
    return undefined;
  }

  function arm(rec: ApprovalRecord): void {
    if (timers.has(rec.id) || closing) return;
    const delay = Math.max(0, nextStep(rec).at - now());
    // setTimeout overflows past ~24.8 days; re-arm in steps so long timeouts still fire.
    const cancel = schedule(
      () => {
        timers.delete(rec.id);
        const cur = store.getApproval(rec.id);
        if (!cur || (cur.state !== "pending" && cur.state !== "approved")) return;
        if (cur.expiresAt <= now()) return settle(save({ ...cur, state: "expired" }, "approval_expired"));
        const step = nextStep(cur);
        arm(step.at > now() || step.kind === "expire" ? cur : attend(cur, step.kind, attendDeps));
      },
      Math.min(delay, 2 ** 31 - 1),
    );
    timers.set(rec.id, cancel);
  }

  function expireIfDue(rec: ApprovalRecord): ApprovalRecord {
    if ((rec.state === "pending" || rec.state === "approved") && rec.expiresAt <= now()) {
      const expired = save({ ...rec, state: "expired" }, "approval_expired");
      settle(expired);
      return expired;
    }
    return rec;
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
        waiters.set(id, list);
        resolve({ outcome: "denied", approval: id });
      };
      waiters.set(id, [...(waiters.get(id) ?? []), waiter]);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  function isAllowed(by: string, approvers: readonly string[]): boolean {
    return approvers.some((a) =>
      a.startsWith("role:") ? (roles?.hasRole(by, a.slice(5)) ?? false) : a === by,
    );
  }

  return {
    /**
     * Holds a request until it is decided; returns at once when a grant or unused approval covers it.
     * `body` is handed over: it is sealed away and not kept in memory while the request waits.
     */
    async hold(req: HoldRequest, signal?: AbortSignal, body?: Buffer): Promise<HoldOutcome> {
      if (closing) return { outcome: "shutting_down", approval: "" };
      const t = now();
      if ((store.grantUntil(req.agent, req.policy, req.rule) ?? 0) > t)
        return { outcome: "approved", via: "grant", body };
      const found = store.findApproval(req.fingerprint, ["approved", "pending"]);
      const existing = found && expireIfDue(found);
      if (existing?.state === "approved") {
        // Same fingerprint, so this request's body has the digest the approval was made for.
        save({ ...existing, state: "used" }, "approval_used");
        void bodies.drop(existing.id);
        return { outcome: "approved", approval: existing.id, via: "vote", body };
      }
      if (existing?.state === "pending") {
        arm(existing);
        audit({ type: "approval_joined", approval: existing.id, agent: req.agent });
        const own = existing.bodyDigest === undefined ? body : undefined;
        body = undefined; // the held copy goes out if approved
        return collect(await wait(existing.id, signal), own);
      }
      const bytes = body?.length ?? 0;
      const limit = overLimit(req.agent, bytes);
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
      const { timeoutMs, ...rest } = req;
      const id = newId();
      const rec = save(
        {
          ...rest,
          id,
          createdAt: t,
          expiresAt: t + timeoutMs,
          votes: [],
          state: "pending",
          bodyDigest: bodyDigest(body ?? EMPTY),
          bodyBytes: bytes,
          bodyAt: bodies.placeFor(bytes),
        },
        "approval_requested",
        { method: req.method, host: req.host, path: req.path, bodyBytes: bytes },
      );
      const writing = body ? bodies.put(id, body) : Promise.resolve();
      body = undefined;
      arm(rec);
      const pending = wait(id, signal);
      const refuse = (event: string): void => {
        const cur = store.getApproval(id);
        if (cur?.state === "pending") settle(save({ ...cur, state: "denied" }, event));
      };
      try {
        await writing;
      } catch {
        refuse("approval_body_unwritable");
        return collect(await pending);
      }
      if (approver) {
        try {
          await approver.requested(toView(rec));
        } catch {
          // No channel could reach an approver: nobody can say yes, so say no now.
          refuse("approval_undeliverable");
          const o = await pending;
          if (o.outcome === "approved") void bodies.drop(id);
          return { outcome: "unavailable", approval: id };
        }
      }
      return collect(await pending);
    },

    /** The held request behind an approval: its record and, while it can still go out, its body. */
    async held(id: string): Promise<HeldRequest | undefined> {
      const rec = store.getApproval(id);
      if (!rec) return undefined;
      if ((rec.state !== "pending" && rec.state !== "approved") || rec.bodyDigest === undefined)
        return { record: rec, body: null };
      const body = await bodies.take(id, rec.bodyAt ?? "none", rec.bodyDigest).catch(() => null);
      return { record: rec, body };
    },

    /** Applies one person's vote. Never throws for bad input; see `DecideResult`. */
    decide(id: string, input: DecideInput): DecideResult {
      const found = store.getApproval(id);
      if (!found) return { ok: false, status: 404, code: "not_found", message: "no such approval" };
      const rec = expireIfDue(found);
      if (rec.state !== "pending") {
        return { ok: false, status: 409, code: "already_decided", message: `approval is ${rec.state}` };
      }
      if (!isAllowed(input.by, rec.approvers)) {
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
      const vote: Vote = { ...input, at: now() };
      const votes = [...rec.votes, vote];
      const approvals = votes.filter((v) => v.decision === "approve");
      let state: ApprovalState = "pending";
      if (input.decision === "deny") state = "denied";
      else if (approvals.length >= rec.needed) state = "approved";
      const next = save({ ...rec, votes, state }, "approval_vote", {
        by: input.by,
        decision: input.decision,
        scope: input.scope,
      });
      // A grant needs every approving voter to have chosen it: one "once" keeps it to this request.
      if (state === "approved" && rec.grantMs && approvals.every((v) => v.scope === "grant")) {
        store.putGrant(rec.agent, rec.policy, rec.rule, now() + rec.grantMs);
        audit({
          type: "grant_created",
          approval: id,
          agent: rec.agent,
          policy: rec.policy,
          rule: rec.rule,
          ms: rec.grantMs,
        });
      }
      if (state !== "pending") settle(next);
      return { ok: true, approval: toView(store.getApproval(id) ?? next) };
    },

    list(state?: ApprovalState): ApprovalView[] {
      return store
        .listApprovals(state)
        .map((r) => toView(expireIfDue(r)))
        .filter((v) => !state || v.state === state);
    },

    get(id: string): ApprovalView | undefined {
      const r = store.getApproval(id);
      return r && toView(r);
    },

    /** Re-arms expiry timers for approvals left pending by a previous run. */
    resume(): void {
      for (const r of store.listApprovals("pending")) arm(expireIfDue(r));
      for (const r of store.listApprovals("approved")) arm(expireIfDue(r));
    },

    /** Answers every held request with `shutting_down`; stored approvals stay pending for a retry. */
    shutdown(): void {
      closing = true;
      for (const cancel of timers.values()) cancel();
      timers.clear();
      for (const [id, list] of waiters) for (const w of list) w({ outcome: "shutting_down", approval: id });
      waiters.clear();
    },
  };
}

export type Approvals = ReturnType<typeof createApprovals>;
