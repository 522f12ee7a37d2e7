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
  // Honest-card facts (DESIGN §3.1). Optional only so older stored rows still read; the gateway
  // sets all of them for every approval it creates.
  /** Characters of the (masked, pretty-printed) body that `bodyPreview` does not show; 0 = all shown. */
  readonly bodyHidden?: number;
  /** Size of the body as sent, in bytes. */
  readonly bodyBytes?: number;
  /** The request's Content-Type and Content-Encoding as sent (null when absent). */
  readonly contentType?: string | null;
  readonly contentEncoding?: string | null;
  /** Secrets the request carries and where they go: never values. */
  readonly secrets?: readonly SecretPlacement[];
  /** Method-override headers / `_method` parameters: the request is evaluated for both methods. */
  readonly overrides?: readonly MethodOverride[];
  /** What "Approve for …" covers, in the rule's own terms: "PUT /repos/…/merge" style; null without a grant. */
  readonly grantCovers?: string | null;
  /**
   * Set once the rule's `escalate` fired (nobody had voted in time): the approver ids added to
   * `approvers`, which already include them. The first approvers' cards say "Escalated to …".
   */
  readonly escalatedTo?: readonly string[];
}

/** One secret a held request carries: `{ name: "GITHUB_TOKEN", where: "Authorization header" }`. */
export interface SecretPlacement {
  readonly name: string;
  /** "<Header-Name> header", "query parameter <key>", "request line", or "body". */
  readonly where: string;
}

/** A second method named by the request: `{ via: "X-HTTP-Method-Override header", method: "DELETE" }`. */
export interface MethodOverride {
  readonly via: string;
  readonly method: string;
}

/** Told about new and changed approvals. Errors from `requested` deny the request (fail closed). */
export interface Approver {
  requested(approval: ApprovalView): Promise<void>;
  /** Optional: called after every vote, decision, expiry or use; absent means nobody needs updates. */
  updated?(approval: ApprovalView): Promise<void>;
  /**
   * Optional: nobody voted in time and the rule escalated: `escalatedTo` names who was added to
   * `approvers`; send them cards. `updated` follows for the cards already out. Errors are ignored.
   */
  escalated?(approval: ApprovalView): Promise<void>;
  /** Optional: the one reminder before expiry (at 80% of the timeout) to the current approvers. */
  remind?(approval: ApprovalView): Promise<void>;
  /** Optional: security events the owner should hear about (e.g. a placeholder sent to the wrong host). */
  alert?(event: SecurityAlert): Promise<void>;
}

/** Something an agent tried that the owner should know about. Never carries secret values. */
export interface SecurityAlert {
  readonly kind: "secret_host_mismatch" | "secret_misplaced";
  readonly agent: string;
  readonly host: string;
  readonly message: string;
}

/** Resolves `role:<name>` approver entries. Absent (gateway alone): roles match nobody. */
export interface RoleResolver {
  hasRole(id: string, role: string): boolean | Promise<boolean>;
}
