/**
 * Pipeline step 5: hold a request whose rule says `approve` until people decide. Untrusted: the
 * whole request. The approval is bound to agent, method, URL, the canonical headers as sent and the
 * body digest (`held-request.ts`); the card gets honest facts; the body is handed to the approvals
 * engine (sealed away while waiting) and what comes back on approval is exactly the held bytes.
 * Every outcome but approval is a `GatewayError`, so nothing goes upstream.
 */
import type { Decision } from "../policies/index.js";
import type { MethodOverride, SecretPlacement } from "./approver.js";
import type { Approvals, HoldOutcome, HoldRequest } from "./approvals.js";
import { GatewayError } from "./errors.js";
import { describeHeld } from "./held-request.js";
import type { Binding } from "./inject.js";

export interface AwaitApprovalInput {
  readonly agent: string;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly path: string;
  /** End-to-end headers as the agent sent them (placeholders, before any swap). */
  readonly headers: readonly (readonly [string, string])[];
  readonly reason: string | null;
  readonly decision: Extract<Decision, { verdict: "approve" }>;
  readonly placeholders: ReadonlyMap<string, string>;
  readonly bindings: readonly Binding[];
  /** From pipeline steps 1–2 (policies/secret-places.ts, policies/method-override.ts). */
  readonly secrets: readonly SecretPlacement[];
  readonly overrides: readonly MethodOverride[];
}

export interface Approved {
  /** The bytes to send: the held copy, or this request's own (grant, earlier approval). */
  readonly body: Buffer;
  readonly approval?: string;
  readonly via: "vote" | "grant";
}

/**
 * Holds and waits. Not async on purpose: no frame of ours keeps `body` alive while the request
 * waits (the caller drops its own reference too), so a flood of held requests costs disk, not memory.
 */
export function awaitApproval(
  approvals: Approvals,
  input: AwaitApprovalInput,
  body: Buffer,
  signal: AbortSignal,
): Promise<Approved> {
  const { decision } = input;
  const facts = describeHeld({ ...input, body });
  const req: HoldRequest = {
    fingerprint: facts.fingerprint,
    agent: input.agent,
    method: input.method,
    url: input.url,
    host: input.host,
    path: input.path,
    policy: decision.policy,
    rule: decision.rule,
    bodyPreview: facts.bodyPreview,
    bodyHidden: facts.bodyHidden,
    contentType: facts.contentType,
    contentEncoding: facts.contentEncoding,
    headers: facts.headers,
    secrets: input.secrets,
    overrides: input.overrides,
    grantCovers: decision.grantMs ? decision.covers : null,
    reason: input.reason === null ? null : input.reason.slice(0, 500),
    needed: decision.approvals,
    approvers: decision.approvers,
    timeoutMs: decision.timeoutMs,
    grantMs: decision.grantMs ?? null,
    ...(decision.escalate && { escalate: decision.escalate }),
  };
  return approvals.hold(req, signal, body).then((o) => approved(o, decision));
}

function approved(outcome: HoldOutcome, decision: AwaitApprovalInput["decision"]): Approved {
  const ctx = {
    policy: decision.policy,
    rule: decision.rule,
    approval: "approval" in outcome ? outcome.approval || undefined : undefined,
  };
  switch (outcome.outcome) {
    case "approved":
      if (!outcome.body) throw new GatewayError("approval_denied", "the held request body is gone", ctx);
      return { body: outcome.body, approval: outcome.approval, via: outcome.via };
    case "expired":
      throw new GatewayError("approval_expired", "approval timed out", ctx);
    case "shutting_down":
      throw new GatewayError("gateway_shutting_down", "gateway is shutting down", ctx);
    case "too_many_pending":
      throw new GatewayError(
        "too_many_pending",
        outcome.limit === "max_pending"
          ? "too many requests of this agent are waiting for approval"
          : "too many request bodies are waiting for approval",
        ctx,
      );
    default:
      throw new GatewayError("approval_denied", "request was not approved", ctx);
  }
}
