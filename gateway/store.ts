/**
 * The gateway's persistence seam. One implementation (`sqlite-store.ts`, also used with ":memory:"
 * in tests). Everything the gateway must not lose on restart lives here: agents and their token
 * hashes, placeholders, sealed secrets, approvals, grants and the audit chain.
 */

export type ApprovalState = "pending" | "approved" | "denied" | "expired" | "used";

export interface Vote {
  readonly by: string;
  readonly decision: "approve" | "deny";
  readonly scope: "once" | "grant";
  readonly at: number;
}

/** Where a held body lives: none (empty body), sealed in the store, or sealed in a spool file. */
export type BodyPlace = "none" | "store" | "spool";

/** A held request and its votes. Times are epoch milliseconds. */
export interface ApprovalRecord {
  readonly id: string;
  /** sha256 of agent, method, URL, canonical headers digest and body digest (`held-request.ts`). */
  readonly fingerprint: string;
  readonly agent: string;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly path: string;
  readonly policy: string;
  readonly rule: string;
  /** First bytes of the body with every real secret and placeholder masked. */
  readonly bodyPreview: string;
  /** The agent's own words (x-warden-reason), untrusted. */
  readonly reason: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly needed: number;
  readonly approvers: readonly string[];
  readonly grantMs: number | null;
  readonly votes: readonly Vote[];
  readonly state: ApprovalState;
  // Since DESIGN §3.1; optional so rows written before still read (they show no such facts).
  /** sha256 hex of the body as sent; the held copy is checked against it before it goes out. */
  readonly bodyDigest?: string;
  readonly bodyBytes?: number;
  readonly bodyAt?: BodyPlace;
  /** Characters of the masked, pretty-printed body that `bodyPreview` leaves out. */
  readonly bodyHidden?: number;
  readonly contentType?: string | null;
  readonly contentEncoding?: string | null;
  /** End-to-end headers as sent, placeholders shown as `[secret NAME]`; never a real value. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly secrets?: readonly { readonly name: string; readonly where: string }[];
  readonly overrides?: readonly { readonly via: string; readonly method: string }[];
  readonly grantCovers?: string | null;
  // Since issue #10 (escalation, reminders); absent on older rows and on rules without them.
  /** The rule's `escalate`: who else is asked when nobody has voted after `afterMs`. */
  readonly escalate?: { readonly afterMs: number; readonly to: readonly string[] };
  /** Set once escalated: the approver ids that were added (may be empty if all were there). */
  readonly escalatedTo?: readonly string[];
  readonly escalatedAt?: number;
  /** Set once the one reminder before expiry went out. */
  readonly remindedAt?: number;
}

export interface AgentRecord {
  readonly name: string;
  /** sha256 hex of the proxy token; the token itself is shown once. */
  readonly tokenHash: string;
  readonly createdAt: number;
}

export interface AuditRow {
  readonly seq: number;
  readonly ts: number;
  readonly entry: Readonly<Record<string, unknown>>;
  readonly prevHash: string;
  readonly hash: string;
}

export type AuditVerifyResult =
  | { readonly ok: true; readonly entries: number }
  | { readonly ok: false; readonly entries: number; readonly badSeq: number; readonly problem: string };

export interface Store {
  putAgent(agent: AgentRecord): void;
  getAgent(name: string): AgentRecord | undefined;
  listAgents(): AgentRecord[];
  deleteAgent(name: string): boolean;

  /** The agent's placeholder for a secret, created with `make` the first time (stable afterwards). */
  placeholder(agent: string, secret: string, make: () => string): string;
  /** placeholder → secret name, for one agent. */
  placeholdersOf(agent: string): Map<string, string>;

  putSecret(name: string, sealed: Buffer): void;
  getSecret(name: string): Buffer | undefined;
  listSecrets(): string[];
  deleteSecret(name: string): boolean;

  putApproval(record: ApprovalRecord): void;
  getApproval(id: string): ApprovalRecord | undefined;
  /** The newest approval with this fingerprint in one of `states`. */
  findApproval(fingerprint: string, states: readonly ApprovalState[]): ApprovalRecord | undefined;
  listApprovals(state?: ApprovalState): ApprovalRecord[];
  /** Pending approvals of one agent (the `max_pending` limit). */
  countPending(agent: string): number;
  /** Body bytes of every pending or approved-but-unused approval, all agents (`max_held_bytes`). */
  heldBytes(): number;

  /** Sealed held bodies small enough to live in the store (larger ones are spool files). */
  putHeldBody(id: string, sealed: Buffer): void;
  getHeldBody(id: string): Buffer | undefined;
  deleteHeldBody(id: string): void;
  listHeldBodies(): string[];

  putGrant(agent: string, policy: string, rule: string, until: number): void;
  grantUntil(agent: string, policy: string, rule: string): number | undefined;

  /** Queues an entry; it is chained and written within the current event-loop turn (or by `flushAudit`). */
  /** Chat messages waiting for an agent; `takeInbox` removes and returns them (delivered once). */
  pushInbox(agent: string, msg: { id: string; text: string; from: string | null; at: string }): void;
  takeInbox(agent: string): { id: string; text: string; from: string | null; at: string }[];
  hasInbox(agent: string): boolean;
  /** Agent replies; `seq` is assigned by the store and increases across agents. */
  appendOutbox(agent: string, msg: { text: string; replyTo: string | null; at: string }): number;
  listOutbox(
    agent: string,
    after: number,
    limit: number,
  ): { seq: number; text: string; replyTo: string | null; at: string }[];
  forgetMailbox(agent: string): void;

  appendAudit(entry: Record<string, unknown>, ts: number): void;
  /** Writes queued audit entries now. Reads and `close()` flush first. */
  flushAudit(): void;
  listAudit(after: number, limit: number): AuditRow[];
  verifyAudit(): AuditVerifyResult;

  close(): void;
}
