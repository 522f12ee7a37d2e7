/**
 * The approvals engine's types (`approvals.ts`): what a hold is made from, what it ends in, the
 * limits it enforces and how votes are answered. Pure declarations.
 */
import type { ApprovalView, Approver, MethodOverride, RoleResolver, SecretPlacement } from "./approver.js";
import type { HeldBodies } from "./held-bodies.js";
import type { ApprovalRecord, Store } from "./store.js";

/** The parts of a request an approval is created from (`held-request.ts` computes most of them). */
export type HoldRequest = Pick<
  ApprovalRecord,
  | "fingerprint"
  | "agent"
  | "method"
  | "url"
  | "host"
  | "path"
  | "policy"
  | "rule"
  | "bodyPreview"
  | "reason"
  | "needed"
  | "approvers"
  | "grantMs"
> &
  Partial<
    Pick<
      ApprovalRecord,
      "bodyHidden" | "contentType" | "contentEncoding" | "headers" | "grantCovers" | "escalate"
    >
  > & {
    readonly timeoutMs: number;
    /** Method-override headers / `_method` the request carries (pipeline step 2 fills it). */
    readonly overrides?: readonly MethodOverride[];
    /** Secrets the request carries and where (pipeline step 1 fills it); never values. */
    readonly secrets?: readonly SecretPlacement[];
  };

/** Which limit refused a request (both answer 429 `too_many_pending`). */
export type HoldLimit = "max_pending" | "max_held_bytes";

export interface HoldLimits {
  readonly maxPending: number;
  readonly maxHeldBytes: number;
}

export const DEFAULT_LIMITS: HoldLimits = { maxPending: 20, maxHeldBytes: 64 * 1024 * 1024 };

/** `body` of an approved outcome is what goes upstream: the held copy, checked against its digest. */
export type HoldOutcome =
  | {
      readonly outcome: "approved";
      readonly approval?: string;
      readonly via: "vote" | "grant";
      readonly body?: Buffer;
    }
  | { readonly outcome: "denied" | "expired" | "shutting_down" | "unavailable"; readonly approval: string }
  | { readonly outcome: "too_many_pending"; readonly limit: HoldLimit };

/** A held request as the full-request page shows it; `body` is null once settled (deleted). */
export interface HeldRequest {
  readonly record: ApprovalRecord;
  readonly body: Buffer | null;
}

export type DecideResult =
  | { readonly ok: true; readonly approval: ApprovalView }
  | {
      readonly ok: false;
      readonly status: 400 | 403 | 404 | 409;
      readonly code: string;
      readonly message: string;
    };

export interface DecideInput {
  readonly decision: "approve" | "deny";
  readonly by: string;
  readonly scope: "once" | "grant";
}

export interface ApprovalsOptions {
  readonly store: Store;
  readonly audit: (entry: Record<string, unknown>) => void;
  readonly approver?: Approver;
  readonly roles?: RoleResolver;
  readonly now?: () => number;
  readonly newId?: () => string;
  /** Where held bodies wait (sealed store rows / spool files); default: in memory. */
  readonly bodies?: HeldBodies;
  /** Read at every new hold, so a policy reload applies at once. Default `DEFAULT_LIMITS`. */
  readonly limits?: () => HoldLimits;
  /**
   * Runs `fn` after `ms` and returns its cancel; default an unref'd `setTimeout`. Tests pass a
   * fake clock's (with the same clock's `now`) to step through escalation, reminder and expiry.
   */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
}
