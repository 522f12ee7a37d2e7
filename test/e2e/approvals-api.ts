/**
 * Small client for the approvals part of the control API, shared by the approval suites.
 */
import type { GatewayProcess } from "../fakes/gateway-process.js";
import { pollUntil } from "../fakes/poll-until.js";

/** An approval as `GET /v1/approvals` lists it (DESIGN.md §3). */
export interface ApprovalView {
  readonly id: string;
  readonly agent: string;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly path: string;
  readonly policy: string;
  readonly rule: string;
  readonly bodyPreview?: string;
  readonly reason?: string;
  readonly needed: number;
  readonly approvals: string[];
  readonly state: string;
}

/** `GET /v1/approvals?state=…`; accepts a bare array or `{approvals:[…]}`. */
export async function listApprovals(gw: GatewayProcess, state = "pending"): Promise<ApprovalView[]> {
  const res = await gw.control("GET", `/v1/approvals?state=${state}`);
  if (res.status !== 200) throw new Error(`GET /v1/approvals → ${res.status} ${res.text}`);
  const list = Array.isArray(res.body) ? res.body : res.body?.approvals;
  if (!Array.isArray(list)) throw new Error(`GET /v1/approvals returned no list: ${res.text}`);
  return list as ApprovalView[];
}

/** Waits until a pending approval for `path` (request path, query excluded) shows up. */
export function waitForPending(gw: GatewayProcess, path: string): Promise<ApprovalView> {
  return pollUntil(`a pending approval for ${path}`, async () => {
    const list = await listApprovals(gw);
    return list.find((a) => a.path === path || a.url.endsWith(path));
  });
}

/** `POST /v1/approvals/{id}/decision`. */
export function decide(
  gw: GatewayProcess,
  id: string,
  decision: "approve" | "deny",
  by: string,
  scope: "once" | "grant" = "once",
) {
  return gw.control("POST", `/v1/approvals/${encodeURIComponent(id)}/decision`, { decision, by, scope });
}
