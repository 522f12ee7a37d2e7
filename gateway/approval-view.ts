/**
 * The API/card shape of a stored approval. Built from the gateway's own record only; the agent's
 * words (reason, body) arrive here already masked and labelled by the record's builder.
 */
import type { ApprovalView } from "./approver.js";
import type { ApprovalRecord } from "./store.js";

/** `ApprovalView` of a record; honest-card facts are left out for rows stored before they existed. */
export function toView(r: ApprovalRecord): ApprovalView {
  return {
    id: r.id,
    agent: r.agent,
    method: r.method,
    url: r.url,
    host: r.host,
    path: r.path,
    policy: r.policy,
    rule: r.rule,
    bodyPreview: r.bodyPreview,
    reason: r.reason,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    needed: r.needed,
    approvals: r.votes.filter((v) => v.decision === "approve").map((v) => v.by),
    deniedBy: r.votes.find((v) => v.decision === "deny")?.by,
    approvers: r.approvers,
    grantMs: r.grantMs,
    state: r.state,
    ...(r.escalatedTo === undefined ? {} : { escalatedTo: r.escalatedTo }),
    ...(r.bodyDigest === undefined
      ? {}
      : {
          bodyHidden: r.bodyHidden ?? 0,
          bodyBytes: r.bodyBytes ?? 0,
          contentType: r.contentType ?? null,
          contentEncoding: r.contentEncoding ?? null,
          secrets: r.secrets ?? [],
          overrides: r.overrides ?? [],
          grantCovers: r.grantCovers ?? null,
        }),
  };
}
