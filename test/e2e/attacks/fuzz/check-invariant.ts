/**
 * The framing fuzzer's invariant (issue #9): the multiset of requests the upstream parsed equals
 * the multiset of requests the gateway audited as allowed (agent, method, path), each upstream
 * request matches byte for byte (method, target, body) the request the agent's bytes carried as
 * the gateway reads them (llhttp), each upstream connection only ever carried one agent's
 * requests, and our strict parser and llhttp agree on every byte the upstream received.
 * Untrusted: the recorded bytes and the audit rows (both may be garbage if the gateway is broken).
 */
import type { AgentRun } from "./agent.js";
import type { FuzzCase } from "./generate.js";
import { type LlRequest, llhttpParse } from "./llhttp-parse.js";
import type { UpstreamConnection } from "./raw-upstream.js";
import { parseRequestStream } from "./strict-parser.js";

export interface Violation {
  readonly kind:
    | "unaudited_upstream_request"
    | "audited_not_delivered"
    | "connection_shared_by_agents"
    | "differs_from_agent_request"
    | "denied_path_upstream"
    | "upstream_parsers_disagree"
    | "malformed_upstream_bytes"
    | "response_for_another_request";
  readonly cases: number[];
  readonly detail: string;
}

export interface AuditEntry {
  readonly type?: unknown;
  readonly agent?: unknown;
  readonly method?: unknown;
  readonly path?: unknown;
  readonly verdict?: unknown;
  readonly code?: unknown;
}

const ID = /c(\d+)r(\d+)$/;
const caseOf = (target: string): number | undefined => {
  const m = ID.exec(target.split("?")[0] ?? "");
  return m ? Number(m[1]) : undefined;
};
const pathOf = (target: string): string => {
  const abs = /^[a-z]+:\/\/[^/]*(\/.*)?$/i.exec(target);
  return ((abs ? (abs[1] ?? "/") : target).split("?")[0] ?? "").toString();
};
const header = (r: LlRequest, name: string) => r.headers.find(([n]) => n.toLowerCase() === name)?.[1];
const show = (b: Buffer) => JSON.stringify(b.toString("latin1"));

/** Compares strict and llhttp readings of one connection's bytes. */
function compareParsers(conn: UpstreamConnection, bytes: Buffer, ll: ReturnType<typeof llhttpParse>) {
  const strict = parseRequestStream(bytes);
  const llDone = ll.requests.filter((r) => r.complete);
  const same =
    strict.requests.length === llDone.length &&
    strict.requests.every((s, i) => {
      const l = llDone[i] as LlRequest;
      return s.method === l.method && s.target === l.target && s.body.equals(l.body);
    });
  const out: Violation[] = [];
  const cases = [...new Set(llDone.map((r) => caseOf(r.target)).filter((c) => c !== undefined))];
  if (!same)
    out.push({
      kind: "upstream_parsers_disagree",
      cases,
      detail: `${conn.id}: strict saw ${strict.requests.map((r) => `${r.method} ${r.target}`).join(", ")} (stop: ${strict.stop?.reason}); llhttp saw ${llDone.map((r) => `${r.method} ${r.target}`).join(", ")} (error: ${ll.error})`,
    });
  // A message cut short is what an agent hanging up mid-body looks like; anything else is not.
  const stop = strict.stop;
  if (stop && stop.reason !== "incomplete message")
    out.push({
      kind: "malformed_upstream_bytes",
      cases,
      detail: `${conn.id}: ${stop.reason} at ${stop.offset}: ${show(bytes.subarray(Math.max(0, stop.offset - 80), stop.offset + 120))}`,
    });
  return out;
}

/** Runs every check. `cases` by index; `audit` = audit entries of this run. */
export function checkInvariant(
  cases: ReadonlyMap<number, FuzzCase>,
  connections: readonly UpstreamConnection[],
  audit: readonly AuditEntry[],
): { violations: Violation[]; upstreamRequests: number; auditedAllows: number; abandoned: number } {
  const violations: Violation[] = [];
  const agents = new Set([...cases.values()].map((c) => c.agent));
  const agentSide = new Map<number, LlRequest[]>();
  for (const [i, c] of cases) agentSide.set(i, llhttpParse(c.bytes).requests);

  // 1. What the upstream parsed, per connection.
  const upstream = new Map<string, { conn: string; r: LlRequest }[]>();
  const partial = new Set<string>();
  let upstreamRequests = 0;
  for (const conn of connections) {
    const bytes = Buffer.concat(conn.chunks);
    const ll = llhttpParse(bytes);
    violations.push(...compareParsers(conn, bytes, ll));
    const owners = new Set<string>();
    for (const r of ll.requests) {
      const c = caseOf(r.target);
      const owner = c === undefined ? undefined : cases.get(c)?.agent;
      owners.add(owner ?? `unknown case of ${r.target}`);
      owners.add(header(r, "x-agent") ?? "no x-agent header");
      const key = `${owner ?? header(r, "x-agent")} ${r.method} ${pathOf(r.target)}`;
      if (!r.complete) {
        partial.add(key);
        continue;
      }
      upstreamRequests++;
      upstream.set(key, [...(upstream.get(key) ?? []), { conn: conn.id, r }]);
      if (pathOf(r.target).startsWith("/denied"))
        violations.push({ kind: "denied_path_upstream", cases: c === undefined ? [] : [c], detail: key });
      // 3. Byte for byte what the agent sent, as the gateway read it.
      const sent =
        c === undefined ? undefined : agentSide.get(c)?.find((a) => pathOf(a.target) === pathOf(r.target));
      if (!sent || sent.method !== r.method || pathOf(sent.target) !== r.target || !sent.body.equals(r.body))
        violations.push({
          kind: "differs_from_agent_request",
          cases: c === undefined ? [] : [c],
          detail: `${conn.id}: upstream ${r.method} ${r.target} body ${show(r.body)}; agent ${sent ? `${sent.method} ${sent.target} body ${show(sent.body)}` : "sent no such request"}`,
        });
    }
    if (owners.size > 1)
      violations.push({
        kind: "connection_shared_by_agents",
        cases: [...new Set(ll.requests.map((r) => caseOf(r.target)).filter((c) => c !== undefined))],
        detail: `${conn.id} carried ${[...owners].join(" + ")}`,
      });
  }

  // 2. The multisets: upstream requests vs audited allows.
  const allowed = new Map<string, number>();
  // The gateway's own later word that an allowed exchange did not complete (the agent hung up or
  // sent garbage after it): such a request may or may not have reached the upstream.
  const abandoned = new Set<string>();
  let auditedAllows = 0;
  for (const e of audit) {
    if (e.type !== "request" || !agents.has(String(e.agent))) continue;
    if (e.code === "upstream_unreachable") abandoned.add(`${e.agent} ${e.method} ${e.path}`);
    if (e.verdict !== "allow" && e.verdict !== "approve") continue;
    auditedAllows++;
    const key = `${e.agent} ${e.method} ${e.path}`;
    allowed.set(key, (allowed.get(key) ?? 0) + 1);
  }
  for (const [key, seen] of upstream) {
    const extra = seen.length - (allowed.get(key) ?? 0);
    if (extra > 0)
      violations.push({
        kind: "unaudited_upstream_request",
        cases: [caseOf(key)].filter((c) => c !== undefined),
        detail: `${key}: upstream parsed ${seen.length} on ${seen.map((s) => s.conn).join(",")}, audit allowed ${allowed.get(key) ?? 0}`,
      });
  }
  for (const [key, count] of allowed) {
    const missing = count - (upstream.get(key)?.length ?? 0);
    // Audited, then the agent hung up mid-body: the upstream saw the start of it and no more.
    if (missing > 0 && !partial.has(key) && !abandoned.has(key))
      violations.push({
        kind: "audited_not_delivered",
        cases: [caseOf(key)].filter((c) => c !== undefined),
        detail: `${key}: audit allowed ${count}, upstream parsed ${upstream.get(key)?.length ?? 0}`,
      });
  }
  return { violations, upstreamRequests, auditedAllows, abandoned: abandoned.size };
}

/**
 * What each agent connection read back: every upstream answer it got must be for a request of that
 * very connection (the upstream names the request in its body), never an unsolicited extra response
 * and never another connection's (least of all another agent's) answer.
 */
/** Same-agent misreads seen by the last `checkResponses` (reported, not a violation). */
export const sameAgentMisreads = { count: 0 };

export function checkResponses(cases: ReadonlyMap<number, FuzzCase>, runs: ReadonlyMap<number, AgentRun>) {
  sameAgentMisreads.count = 0;
  const out: Violation[] = [];
  for (const [i, run] of runs) {
    for (const r of run.responses) {
      const m = /^ok (\S+) (\S+) /.exec(r.body);
      if (!m?.[2]) continue;
      const from = caseOf(m[2]);
      if (m[1] !== "EXTRA" && from === i) continue;
      // The contract: no agent's connection carries ANOTHER agent's response. Within one agent,
      // a hostile upstream's unsolicited answer on a pooled connection cannot be told from its real
      // next answer (HTTP/1.1 has no request ids); those are counted by `sameAgentMisreads`.
      if (from !== undefined && cases.get(from)?.agent === cases.get(i)?.agent) {
        sameAgentMisreads.count++;
        continue;
      }
      out.push({
        kind: "response_for_another_request",
        cases: [i, ...(from !== undefined && from !== i ? [from] : [])],
        detail: `${cases.get(i)?.agent} connection of case ${i} read ${JSON.stringify(r.body)} (request of case ${from}, agent ${from === undefined ? "?" : cases.get(from)?.agent})`,
      });
    }
  }
  return out;
}
