/**
 * What the bot may do to the rest of Warden. One narrow interface so the command handlers are
 * testable with a fake, and so the bot never touches gateway internals. The real implementation
 * (bot/gateway-control.ts) wraps the in-process gateway and the agent manager.
 */
import type { ApprovalView, ReplayInput, ReplayOutcome } from "../gateway/index.js";
import type { Decision } from "../policies/index.js";

export type DecideOutcome =
  | { readonly ok: true; readonly approval: ApprovalView }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

export type PolicyWriteOutcome = { readonly ok: true } | { readonly ok: false; readonly errors: string };

/** One problem in a policy text: the file it is in and, when known, its 1-based line. */
export interface PolicyProblem {
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

/** A validation without saving: the same zod/YAML errors `writePolicy` reports, also one by one. */
export type PolicyCheckOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly errors: string; readonly problems: readonly PolicyProblem[] };

/** The audit hash chain checked end to end (`warden audit verify`). */
export type AuditCheck =
  | { readonly ok: true; readonly entries: number }
  | { readonly ok: false; readonly entries: number; readonly badSeq: number; readonly problem: string };

/**
 * A held request in full, as the gateway's control API returns it (`GET /v1/approvals/{id}/request`):
 * every header as sent (secret placeholders shown as `[secret NAME]`, never values) and the whole body.
 * Everything in it was written by the agent: untrusted text to be escaped wherever it is shown.
 */
export interface HeldRequest {
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
  /** The body, as text (`utf8`) or, when it is not valid UTF-8, base64. */
  readonly body: string;
  readonly bodyEncoding: "utf8" | "base64";
  readonly bodyBytes: number;
}

export interface AgentInfo {
  readonly name: string;
  readonly state: string;
  readonly provider?: string;
}

export interface ControlPort {
  listApprovals(state?: ApprovalView["state"]): Promise<ApprovalView[]>;
  getApproval(id: string): Promise<ApprovalView | undefined>;
  decide(
    id: string,
    input: { decision: "approve" | "deny"; by: string; scope: "once" | "grant" },
  ): Promise<DecideOutcome>;
  /**
   * The held request of a pending approval, in full (for the full-request page). Undefined when the
   * gateway no longer holds it (decided, expired, used) or has no such approval. Optional: a
   * ControlPort without it shows the approval's card facts only.
   */
  heldRequest?(id: string): Promise<HeldRequest | undefined>;

  startAgent(name: string, provider: string): Promise<AgentInfo>;
  stopAgent(name: string): Promise<boolean>;
  listAgents(): Promise<AgentInfo[]>;
  agentLogs(name: string): Promise<string>;
  /** Queues a chat message for the agent (its reply arrives through the outbox event). */
  tellAgent(name: string, text: string, from: string): Promise<void>;
  /** Answers a question the agent asked (`ask`); false when there is no such open question. */
  answerAgent(name: string, askId: string, answer: string): boolean;

  listPolicies(): { name: string; file: string; hosts: readonly string[] }[];
  /** The YAML text of a policy file, or undefined. */
  readPolicy(name: string): Promise<string | undefined>;
  /** Validates with every other file, then writes and reloads; the old file stays on failure. */
  writePolicy(name: string, yaml: string): Promise<PolicyWriteOutcome>;
  /** Validates `yaml` as policy `name` together with every other file; writes nothing (console editor). */
  validatePolicy?(name: string, yaml: string): Promise<PolicyCheckOutcome>;
  testPolicy(agent: string, method: string, url: string): Decision | { error: string };
  /**
   * Replays the audited requests of `input.window` (`24h`) against the policies with `input.policy`
   * replaced by `input.yaml` (or as on disk): how many decisions would change, per transition, with
   * examples (agent-written text: escape it). Writes nothing. Optional: without it, no replay offered.
   */
  replayPolicy?(input: ReplayInput): Promise<ReplayOutcome>;
  reloadPolicies(): Promise<PolicyWriteOutcome>;

  setSecret(name: string, value: string): Promise<void>;
  listSecrets(): Promise<string[]>;
  deleteSecret(name: string): Promise<boolean>;

  listAudit(
    after: number,
    limit: number,
  ): Promise<{ seq: number; ts: number; entry: Readonly<Record<string, unknown>> }[]>;
  /** Checks the audit hash chain (the same check as `warden audit verify`). */
  verifyAudit?(): Promise<AuditCheck>;
}
