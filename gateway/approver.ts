/**
 * The seam between the gateway and the humans who decide. The bot implements `Approver` (cards in
 * chat); run alone, the gateway has none and decisions arrive only through the control API.
 */

/** What approvers are shown about a held request. Built by the gateway only, never by the agent. */
export interface ApprovalView {
  readonly id: string;
  readonly agent: string;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly path: string;
  readonly policy: string;
  readonly rule: string;
  /** Secrets and placeholders masked. */
  readonly bodyPreview: string;
  /** The agent's own words; show it labelled as such. */
  readonly reason: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly needed: number;
  /** Who approved so far. */
  readonly approvals: readonly string[];
  readonly deniedBy?: string;
  readonly approvers: readonly string[];
  /** The grant window in ms when the rule offers "Approve for …". */
  readonly grantMs: number | null;
  readonly state: "pending" | "approved" | "denied" | "expired" | "used";
}

/** Told about new and changed approvals. Errors from `requested` deny the request (fail closed). */
export interface Approver {
  requested(approval: ApprovalView): Promise<void>;
  /** Optional: called after every vote, decision, expiry or use; absent means nobody needs updates. */
  updated?(approval: ApprovalView): Promise<void>;
  /** Optional: security events the owner should hear about (e.g. a placeholder sent to the wrong host). */
  alert?(event: SecurityAlert): Promise<void>;
}

/** Something an agent tried that the owner should know about. Never carries secret values. */
export interface SecurityAlert {
  readonly kind: "secret_host_mismatch";
  readonly agent: string;
  readonly host: string;
  readonly message: string;
}

/** Resolves `role:<name>` approver entries. Absent (gateway alone): roles match nobody. */
export interface RoleResolver {
  hasRole(id: string, role: string): boolean;
}
