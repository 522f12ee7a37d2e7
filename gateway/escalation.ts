/**
 * When a pending approval needs attention before it expires (DESIGN §4 `escalate`, §6 no approval
 * fatigue): escalation to more people when nobody has answered after the rule's `after`, and one
 * reminder to the current approvers before expiry. The approvals engine asks `nextStep` (pure) when
 * to wake up and calls `attend` for what is due. Nothing here comes from the agent: the escalation
 * is the policy's, the times are the gateway's own.
 *
 * Escalation only ever adds approvers (the quorum `needed` never changes), at most once, and only
 * while nobody has voted: one approver's "yes" on a quorum of two is an answer, not silence.
 */
import { toView } from "./approval-view.js";
import type { Approver } from "./approver.js";
import type { ApprovalRecord } from "./store.js";

/** The reminder goes out at this share of the timeout (80%: 12 minutes into 15). */
export const REMIND_AT = 0.8;
/** Approvals shorter than this get no reminder: a nudge 24 s into 30 s is noise, not help. */
export const MIN_REMIND_TIMEOUT_MS = 60_000;

/** What the engine should do next for an approval, and at what time (epoch ms). */
export type EscalationStep =
  | { readonly kind: "escalate"; readonly at: number }
  | { readonly kind: "remind"; readonly at: number }
  | { readonly kind: "expire"; readonly at: number };

/** When the rule's escalation is due; undefined once done, voted on, or not asked for. */
export function escalationAt(rec: ApprovalRecord): number | undefined {
  if (rec.state !== "pending" || !rec.escalate || rec.escalatedTo !== undefined) return undefined;
  if (rec.votes.length > 0) return undefined;
  const at = rec.createdAt + rec.escalate.afterMs;
  return at < rec.expiresAt ? at : undefined;
}

/** When the one reminder is due; undefined once sent, or for short or settled approvals. */
export function reminderAt(rec: ApprovalRecord): number | undefined {
  if (rec.state !== "pending" || rec.remindedAt !== undefined) return undefined;
  const timeout = rec.expiresAt - rec.createdAt;
  if (timeout < MIN_REMIND_TIMEOUT_MS) return undefined;
  return rec.createdAt + Math.floor(timeout * REMIND_AT);
}

/** The earliest thing due for `rec`: escalation, then the reminder, else its expiry. */
export function nextStep(rec: ApprovalRecord): EscalationStep {
  const escalate = escalationAt(rec);
  const remind = reminderAt(rec);
  if (escalate !== undefined && (remind === undefined || escalate <= remind))
    return { kind: "escalate", at: escalate };
  if (remind !== undefined) return { kind: "remind", at: remind };
  return { kind: "expire", at: rec.expiresAt };
}

/**
 * `rec` escalated at `at`: its approvers grown by the rule's `to` (each once), `escalatedTo` set to
 * the entries that were not approvers already (what the first approvers' cards name).
 */
export function escalate(rec: ApprovalRecord, at: number): ApprovalRecord {
  const added = [...new Set(rec.escalate?.to ?? [])].filter((id) => !rec.approvers.includes(id));
  return { ...rec, approvers: [...rec.approvers, ...added], escalatedTo: added, escalatedAt: at };
}

/** What `attend` needs from the approvals engine. */
export interface AttendDeps {
  /**
   * The engine's compare-and-set, audited as `event` with `extra` when it wins; undefined when the
   * row changed first (another replica). Tells no Approver: `attend` does that itself.
   */
  readonly change: (
    prev: ApprovalRecord,
    next: ApprovalRecord,
    event: string,
    extra: Record<string, unknown>,
  ) => Promise<ApprovalRecord | undefined>;
  readonly audit: (entry: Record<string, unknown>) => void;
  readonly approver?: Approver;
  readonly now: () => number;
}

/**
 * Applies a due escalation or reminder: stored first (a restart neither repeats nor loses it), then
 * the Approver is told. Stored by compare-and-set, so when several replicas wake for the same
 * approval exactly one escalates or reminds; the others get undefined and tell nobody. Telling
 * errors are ignored: the first approvers can still decide, and the request still expires on time.
 */
export async function attend(
  rec: ApprovalRecord,
  kind: "escalate" | "remind",
  { change, approver, now }: AttendDeps,
): Promise<ApprovalRecord | undefined> {
  if (kind === "escalate") {
    const grown = escalate(rec, now());
    const next = await change(rec, grown, "approval_escalated", { to: grown.escalatedTo });
    if (!next) return undefined;
    const view = toView(next);
    // New people get their cards first; then every card already out shows "Escalated to …".
    void (approver?.escalated?.(view) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => approver?.updated?.(view))
      .catch(() => undefined);
    return next;
  }
  const next = await change(rec, { ...rec, remindedAt: now() }, "approval_reminded", {});
  if (next) approver?.remind?.(toView(next)).catch(() => undefined);
  return next;
}
