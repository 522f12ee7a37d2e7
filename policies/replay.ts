/**
 * Policy replay (DESIGN §6, `/policy test NAME --replay 24h`): the audited requests of a window are
 * evaluated against a candidate policy set, and the decisions that would change are counted per
 * transition (allow→approve, approve→deny, …) with a few examples each.
 *
 * Untrusted: every audit entry field that came from the agent (host, path, method, agent name); it
 * is only evaluated and copied into examples, which callers escape before showing. Pure: no I/O, no
 * clock. Never guesses: a row whose old decision the audit does not record (refused before or
 * beside the policy: rate limit, address, framing …), a CONNECT refusal (the requests inside were
 * never seen), or a request whose new outcome depends on its body (the audit keeps no bodies) is
 * counted as "cannot replay" with its reason, not as changed or unchanged.
 */
import { z } from "zod";
import { evaluate, findPolicy } from "./evaluate.js";
import { strictest } from "./method-override.js";
import { normalizeHost, normalizeMethod, splitPath } from "./normalize.js";
import type { CompiledRule, Decision, EgressRequest, PolicySet } from "./types.js";

export type ReplayVerdict = Decision["verdict"];

/** One audit row as the store lists it (`GET /v1/audit`). */
export interface ReplayRow {
  readonly seq: number;
  readonly ts: number;
  readonly entry: Readonly<Record<string, unknown>>;
}

/** Why a row cannot be replayed honestly. */
export type CannotReplayReason =
  /** The audit records no policy verdict for it (refused before or beside the policy). */
  | "no_decision"
  /** A CONNECT refused as a whole: the requests inside the tunnel were never seen. */
  | "tunnel"
  /** The candidate's decision depends on the request body, which the audit does not keep. */
  | "body";

export interface ReplayExample {
  readonly seq: number;
  readonly ts: number;
  /** Agent-written (agent name, method, url): escape before showing. */
  readonly agent: string;
  readonly method: string;
  /** `https://host/path` (port 443), `http://host/path` (80), else `host:port/path`; no query (not audited). */
  readonly url: string;
  readonly from: ReplayVerdict;
  readonly to: ReplayVerdict;
  /** `policy/rule` that decided before and would decide now (`-` when none was reached). */
  readonly fromRule: string;
  readonly toRule: string;
}

export interface ReplayTransition {
  readonly from: ReplayVerdict;
  readonly to: ReplayVerdict;
  readonly count: number;
  /** The most recent `examples` of them, oldest first. */
  readonly examples: readonly ReplayExample[];
}

export interface ReplayReport {
  /** Request rows in the window. `total = unchanged + changed + cannotReplay.count`. */
  readonly total: number;
  readonly unchanged: number;
  /** Rows whose verdict would differ. */
  readonly changed: number;
  /** Of the unchanged: the same verdict, but another policy or rule would decide (other approvers…). */
  readonly otherRule: number;
  /** Always the six transitions in a fixed order, zero counts included. */
  readonly transitions: readonly ReplayTransition[];
  readonly cannotReplay: {
    readonly count: number;
    readonly reasons: Readonly<Record<CannotReplayReason, number>>;
  };
}

export interface ReplayOptions {
  /** Examples kept per transition (default 5). */
  readonly examples?: number;
  /** Hosts pinned by `--resolve` (only a policy's explicit `ports` apply to them). */
  readonly pinned?: (host: string) => boolean;
}

const VERDICTS: readonly ReplayVerdict[] = ["allow", "approve", "deny"];
/** Refusal codes that mean "the policy said approve" (the approval then failed). */
const APPROVE_CODES = new Set(["approval_denied", "approval_expired", "too_many_pending"]);
/** Refusal codes the evaluator itself produces. */
const POLICY_CODES = new Set(["policy_denied", "host_not_allowed"]);
const URL_MAX = 1000;

const RequestEntry = z.object({
  type: z.literal("request"),
  agent: z.string(),
  method: z.string(),
  host: z.string(),
  port: z.number().int().optional(),
  path: z.string(),
  verdict: z.enum(["allow", "approve", "deny"]),
  code: z.string().optional(),
  policy: z.string().optional(),
  rule: z.string().optional(),
  overrides: z.array(z.object({ method: z.string() })).optional(),
});
type RequestEntry = z.infer<typeof RequestEntry>;

/** Replays `rows` (any audit rows; only `type: "request"` ones count) against `candidate`. */
export function replayAudit(
  rows: Iterable<ReplayRow>,
  candidate: PolicySet,
  opts: ReplayOptions = {},
): ReplayReport {
  const keep = Math.max(0, opts.examples ?? 5);
  const pinned = opts.pinned ?? (() => false);
  const buckets = new Map<string, { count: number; examples: ReplayExample[] }>();
  for (const from of VERDICTS)
    for (const to of VERDICTS) if (from !== to) buckets.set(`${from}>${to}`, { count: 0, examples: [] });
  const reasons: Record<CannotReplayReason, number> = { no_decision: 0, tunnel: 0, body: 0 };
  let total = 0;
  let unchanged = 0;
  let otherRule = 0;

  for (const row of rows) {
    if (row.entry.type !== "request") continue;
    total++;
    const parsed = RequestEntry.safeParse(row.entry);
    if (!parsed.success) {
      // A request row without method/host/path: refused before it was understood.
      reasons[row.entry.method === "CONNECT" ? "tunnel" : "no_decision"]++;
      continue;
    }
    const e = parsed.data;
    if (e.method === "CONNECT") {
      reasons.tunnel++;
      continue;
    }
    const from = oldVerdict(e);
    if (from === undefined) {
      reasons.no_decision++;
      continue;
    }
    const methods = [e.method, ...(e.overrides ?? []).map((o) => o.method)];
    const base = { agent: e.agent, host: e.host, port: e.port, portPinned: pinned(e.host), path: e.path };
    if (methods.some((method) => dependsOnBody(candidate, { ...base, method }))) {
      reasons.body++;
      continue;
    }
    const now = strictest(
      methods.map((method) => evaluate(candidate, { ...base, method, canonical: EMPTY })),
    );
    const fromRule = ruleOf(e.policy, e.rule);
    const toRule = ruleOf(now.policy, now.rule);
    if (now.verdict === from) {
      unchanged++;
      if (fromRule !== toRule) otherRule++;
      continue;
    }
    const bucket = buckets.get(`${from}>${now.verdict}`);
    if (!bucket) continue;
    bucket.count++;
    if (keep === 0) continue;
    bucket.examples.push({
      seq: row.seq,
      ts: row.ts,
      agent: e.agent,
      method: e.method,
      url: urlOf(e),
      from,
      to: now.verdict,
      fromRule,
      toRule,
    });
    if (bucket.examples.length > keep) bucket.examples.shift();
  }

  const transitions = [...buckets].map(([key, b]) => {
    const [from, to] = key.split(">") as [ReplayVerdict, ReplayVerdict];
    return { from, to, count: b.count, examples: b.examples };
  });
  const changed = transitions.reduce((n, t) => n + t.count, 0);
  const cannot = reasons.no_decision + reasons.tunnel + reasons.body;
  return { total, unchanged, changed, otherRule, transitions, cannotReplay: { count: cannot, reasons } };
}

const EMPTY = { kind: "empty" } as const;

/** The verdict the policy gave at the time, when the row records it. */
function oldVerdict(e: RequestEntry): ReplayVerdict | undefined {
  if (e.verdict !== "deny") return e.verdict;
  if (e.code !== undefined && POLICY_CODES.has(e.code)) return "deny";
  if (e.code !== undefined && APPROVE_CODES.has(e.code)) return "approve";
  return undefined;
}

/**
 * True when some rule that reads the body (`body_contains`, `graphql`) would be reached before the
 * rule that decides a body-less request: then the body could change the outcome, and we have none.
 */
function dependsOnBody(set: PolicySet, req: EgressRequest): boolean {
  const method = normalizeMethod(req.method);
  const host = normalizeHost(req.host);
  const segments = splitPath(req.path);
  if (method === undefined || host === undefined || segments === undefined) return false;
  const policy = findPolicy(set, req.agent, host);
  if (!policy?.needsBody) return false;
  const d = evaluate(set, { ...req, canonical: EMPTY });
  // Refused before any rule (port): the body plays no part.
  if (d.policy !== policy.name || d.rule === undefined) return false;
  const reached = (r: CompiledRule): boolean =>
    (r.methods === undefined || r.methods.has(method)) &&
    (r.paths === undefined || r.paths.some((matches) => matches(segments)));
  const readsBody = (r: CompiledRule): boolean => r.bodyContains !== undefined || r.graphql !== undefined;
  for (const r of policy.rules) {
    if (!reached(r)) continue;
    if (readsBody(r)) return true;
    return false; // the first reached rule without a body condition decides
  }
  return false;
}

function ruleOf(policy: string | undefined, rule: string | undefined): string {
  return policy === undefined && rule === undefined ? "-" : `${policy ?? "-"}/${rule ?? "-"}`;
}

function urlOf(e: RequestEntry): string {
  const url =
    e.port === 443 || e.port === undefined
      ? `https://${e.host}${e.path}`
      : e.port === 80
        ? `http://${e.host}${e.path}`
        : `${e.host}:${e.port}${e.path}`;
  // Honest cut: say how much is not shown.
  return url.length <= URL_MAX ? url : `${url.slice(0, URL_MAX)}… (${url.length - URL_MAX} more characters)`;
}
