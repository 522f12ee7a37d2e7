/**
 * The gateway's persistence seam, asynchronous so a networked database can sit behind it:
 * `sqlite-store.ts` (the embedded default, also ":memory:" in tests). Everything the gateway must not
 * lose on restart lives here: agents and their token hashes, placeholders, sealed secrets, approvals,
 * grants and the audit chain.
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
  /** Where the data lives (`GET /v1/health` reports it). */
  readonly kind: "sqlite" | "postgres";
  /** Resolves once the tables are in place; rejects with why not (e.g. the role lacks a privilege). */
  ready(): Promise<void>;
  putAgent(agent: AgentRecord): Promise<void>;
  getAgent(name: string): Promise<AgentRecord | undefined>;
  listAgents(): Promise<AgentRecord[]>;
  deleteAgent(name: string): Promise<boolean>;

  /** The agent's placeholder for a secret, created with `make` the first time (stable afterwards). */
  placeholder(agent: string, secret: string, make: () => string): Promise<string>;
  /** placeholder → secret name, for one agent. */
  placeholdersOf(agent: string): Promise<Map<string, string>>;

  putSecret(name: string, sealed: Buffer): Promise<void>;
  getSecret(name: string): Promise<Buffer | undefined>;
  listSecrets(): Promise<string[]>;
  deleteSecret(name: string): Promise<boolean>;

  putApproval(record: ApprovalRecord): Promise<void>;
  /**
   * Inserts a new pending approval only while its agent has fewer than `maxPending` pending ones
   * and all held bodies plus this one stay within `maxHeldBytes`, as one atomic step: concurrent
   * holds (here or on other replicas) cannot both slip under a limit. Returns the limit hit, if any.
   */
  insertApproval(
    record: ApprovalRecord,
    limits: { readonly maxPending: number; readonly maxHeldBytes: number },
  ): Promise<"max_pending" | "max_held_bytes" | undefined>;
  /**
   * Replaces `prev` with `next` only if the stored row is still exactly `prev` (compare-and-set).
   * False when someone else changed it first, on this process or another replica: the caller
   * re-reads and decides again. This is what makes a vote, an expiry and "used once" race-free.
   */
  casApproval(prev: ApprovalRecord, next: ApprovalRecord): Promise<boolean>;
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** The newest approval with this fingerprint in one of `states`. */
  findApproval(fingerprint: string, states: readonly ApprovalState[]): Promise<ApprovalRecord | undefined>;
  listApprovals(state?: ApprovalState): Promise<ApprovalRecord[]>;
  /** Pending approvals of one agent (the `max_pending` limit). */
  countPending(agent: string): Promise<number>;
  /** Body bytes of every pending or approved-but-unused approval, all agents (`max_held_bytes`). */
  heldBytes(): Promise<number>;

  /** Sealed held bodies small enough to live in the store (larger ones are spool files). */
  putHeldBody(id: string, sealed: Buffer): Promise<void>;
  getHeldBody(id: string): Promise<Buffer | undefined>;
  deleteHeldBody(id: string): Promise<void>;
  listHeldBodies(): Promise<string[]>;

  putGrant(agent: string, policy: string, rule: string, until: number): Promise<void>;
  grantUntil(agent: string, policy: string, rule: string): Promise<number | undefined>;

  /** Chat messages waiting for an agent; `takeInbox` removes and returns them (delivered once). */
  pushInbox(agent: string, msg: { id: string; text: string; from: string | null; at: string }): Promise<void>;
  takeInbox(agent: string): Promise<{ id: string; text: string; from: string | null; at: string }[]>;
  hasInbox(agent: string): Promise<boolean>;
  /** Agent replies; `seq` is assigned by the store and increases across agents. */
  appendOutbox(agent: string, msg: { text: string; replyTo: string | null; at: string }): Promise<number>;
  listOutbox(
    agent: string,
    after: number,
    limit: number,
  ): Promise<{ seq: number; text: string; replyTo: string | null; at: string }[]>;
  forgetMailbox(agent: string): Promise<void>;

  /**
   * Queues an entry; it is chained and written within a few milliseconds (or by `flushAudit`).
   * Synchronous on purpose: the hot path never waits for the audit write, and queue order is log order.
   */
  appendAudit(entry: Record<string, unknown>, ts: number): void;
  /** Writes queued audit entries now. Reads and `close()` flush first. */
  flushAudit(): Promise<void>;
  listAudit(after: number, limit: number): Promise<AuditRow[]>;
  verifyAudit(): Promise<AuditVerifyResult>;

  /**
   * Counts one use of `key` in the fixed window starting at `windowStart` (ms) and returns the uses
   * so far in that window, this one included: one atomic upsert, so replicas share one count.
   */
  takeRate(key: string, windowStart: number): Promise<number>;
  /** Small shared blobs (e.g. the install CA, sealed). */
  kvGet(ns: string, key: string): Promise<Buffer | undefined>;
  /** Stores `value` unless `key` exists; true when this call stored it (first writer wins). */
  kvPutIfAbsent(ns: string, key: string, value: Buffer): Promise<boolean>;

  /**
   * Tells every replica sharing this store (this process included) that something under `topic`
   * changed, e.g. `approvals` with the approval id. Delivery is at most once and may be late: a
   * listener re-reads the store, never trusts the message. SQLite delivers in-process only.
   */
  notify(topic: string, message: string): Promise<void>;
  /** Calls `handler` for each `notify` on `topic`; returns the unsubscribe. */
  listen(topic: string, handler: (message: string) => void): () => void;

  close(): Promise<void>;
}

/** The synchronous twin of an async store interface: what SQLite's implementation returns before `asyncify`. */
export type Sync<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K];
};

/**
 * Wraps a synchronous store so it honours the async seam. Each call still runs at once (an async
 * function runs synchronously up to its first await), so the order of writes is the order of calls;
 * only the result arrives a microtask later. Methods named in `keep` stay synchronous.
 */
export function asyncify<T extends object>(sync: Sync<T>, keep: readonly (keyof T)[] = []): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(sync)) {
    if (typeof value !== "function" || keep.includes(name as keyof T)) out[name] = value;
    // Called on `sync` itself: its methods may use `this` for one another.
    else out[name] = async (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(sync, args);
  }
  return out as T;
}
