/**
 * What the operator console shows, shaped from the ControlPort into small JSON objects: pending
 * approvals, one page of the audit log (newest first, filtered by agent, host and decision), agents.
 * Untrusted: nearly every string here (agent names, hosts, paths, the agent's reason) was written by an
 * agent or an upstream. We only copy known fields, cut long strings, and the page puts them into the
 * DOM as text. Nothing here carries a secret value: the audit and approvals hold names only.
 */
import type { ApprovalView } from "../../../gateway/index.js";
import type { ControlPort } from "../../control-port.js";

/** Filters of the audit view, all optional; `before` pages to older rows. */
export interface AuditQuery {
  readonly agent?: string;
  readonly host?: string;
  readonly decision?: AuditDecision;
  readonly before?: number;
  readonly limit: number;
}

export type AuditDecision = "allow" | "approve" | "deny";

/** One audit row as the console shows it. */
export interface AuditItem {
  readonly seq: number;
  readonly ts: number;
  readonly type: string;
  readonly agent: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly verdict: string;
  readonly code: string;
  readonly rule: string;
  readonly approval: string;
}

export interface AuditPage {
  readonly rows: readonly AuditItem[];
  /** Pass as `before` for the next (older) page; null when there is none. */
  readonly older: number | null;
}

const CHUNK = 1000;
const MAX_FIELD = 300;

/** A string field of an audit entry, cut; numbers become text; anything else is "". */
function field(v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return typeof v === "string" ? v.slice(0, MAX_FIELD) : "";
}

function itemOf(row: { seq: number; ts: number; entry: Readonly<Record<string, unknown>> }): AuditItem {
  const e = row.entry;
  return {
    seq: row.seq,
    ts: row.ts,
    type: field(e.type),
    agent: field(e.agent),
    method: field(e.method),
    host: field(e.host),
    path: field(e.path),
    verdict: field(e.verdict),
    code: field(e.code),
    rule: [field(e.policy), field(e.rule)].filter(Boolean).join("/"),
    approval: field(e.approval),
  };
}

function matches(item: AuditItem, q: AuditQuery): boolean {
  const has = (value: string, needle: string | undefined) =>
    needle === undefined || needle === "" || value.toLowerCase().includes(needle.toLowerCase());
  if (!has(item.agent, q.agent) || !has(item.host, q.host)) return false;
  return q.decision === undefined || item.verdict === q.decision;
}

/**
 * One page of matching rows, newest first. The ControlPort pages forward only, so the audit is read
 * in chunks from the start, keeping just the newest `limit + 1` matches below `before`: memory stays
 * small; time grows with the audit (fine for one person's gateway, and said in README).
 */
export async function searchAudit(
  control: Pick<ControlPort, "listAudit">,
  q: AuditQuery,
): Promise<AuditPage> {
  const kept: AuditItem[] = [];
  let after = 0;
  for (;;) {
    const chunk = await control.listAudit(after, CHUNK);
    for (const row of chunk) {
      if (q.before !== undefined && row.seq >= q.before) break;
      const item = itemOf(row);
      if (!matches(item, q)) continue;
      kept.push(item);
      if (kept.length > q.limit + 1) kept.shift();
    }
    const last = chunk.at(-1);
    if (chunk.length < CHUNK || last === undefined) break;
    if (q.before !== undefined && last.seq >= q.before) break;
    after = last.seq;
  }
  const more = kept.length > q.limit;
  const rows = (more ? kept.slice(1) : kept).reverse();
  return { rows, older: more ? (rows.at(-1)?.seq ?? null) : null };
}

/** A pending approval as the console lists it (its full request is at `/approvals/<id>`). */
export interface PendingItem {
  readonly id: string;
  readonly agent: string;
  readonly method: string;
  readonly url: string;
  readonly rule: string;
  readonly reason: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly needed: number;
  readonly approvals: number;
}

export async function pendingItems(control: Pick<ControlPort, "listApprovals">): Promise<PendingItem[]> {
  return (await control.listApprovals("pending")).map((a: ApprovalView) => ({
    id: a.id,
    agent: a.agent.slice(0, MAX_FIELD),
    method: a.method.slice(0, MAX_FIELD),
    url: a.url.slice(0, 2000),
    rule: `${a.policy}/${a.rule}`.slice(0, MAX_FIELD),
    reason: a.reason === null ? null : a.reason.slice(0, 2000),
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    needed: a.needed,
    approvals: a.approvals.length,
  }));
}

/** Container logs are the agent's output: only their tail is sent, as text. */
export const LOG_TAIL_CHARS = 64 * 1024;

export function logTail(text: string): { logs: string; cut: number } {
  const cut = Math.max(0, text.length - LOG_TAIL_CHARS);
  return { logs: text.slice(cut), cut };
}
