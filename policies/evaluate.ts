/**
 * The policy decision: (PolicySet, EgressRequest) → Decision. Start auditing here.
 *
 * Threat model: every field of the request comes from a hostile agent; the policy set is trusted.
 * We normalise method and host strictly and refuse anything odd (`normalize.ts`), refuse paths
 * that servers could read two ways (`split-path.ts`), and fail closed everywhere else: a host no
 * policy names is denied unless `_defaults.unknown_hosts` says approve, a policy without a
 * matching rule applies its `default` (itself `deny` when omitted), and a body rule that cannot
 * see the body never lets a request through (see `bodyMatches`). A port the policy does not list
 * (default 80 and 443) is `host_not_allowed`. Pure: no I/O, no clock.
 */

import { type CanonicalBody, canonicalBody, foldForMatch } from "./canonical-body.js";
import { type GraphqlOperations, graphqlOperations } from "./graphql-operations.js";
import { hostMatches, normalizeHost, normalizeMethod, splitPath } from "./normalize.js";
import { DEFAULT_PORTS } from "./schema.js";
import type {
  CompiledPolicy,
  CompiledRule,
  Decision,
  DenyReason,
  EgressRequest,
  PolicyDefaults,
  PolicySet,
} from "./types.js";

/** Policy name reported for decisions made by `_defaults.yaml` (unknown hosts). */
export const DEFAULTS_POLICY = "_defaults";

/**
 * Finds the policy governing `host` for `agent`. `host` must already be normalised.
 * Exact host patterns beat `*.` patterns, a longer wildcard suffix beats a shorter one, and
 * remaining ties go to the first file name. Policies not listing the agent (or `*`) are skipped.
 */
export function findPolicy(set: PolicySet, agent: string, host: string): CompiledPolicy | undefined {
  let best: CompiledPolicy | undefined;
  let bestScore = 0;
  for (const policy of set.policies) {
    if (!policy.agents.includes(agent) && !policy.agents.includes("*")) continue;
    const score = matchScore(policy, host);
    const better =
      score > bestScore || (score === bestScore && best !== undefined && policy.file < best.file);
    if (score > 0 && better) [best, bestScore] = [policy, score];
  }
  return best;
}

/**
 * Whether `port` of `host` can be allowed at all for `agent`: the governing policy's `ports`, or
 * 80/443 when only `_defaults` (unknown_hosts: approve) would decide. Lets the CONNECT handler
 * refuse a tunnel whose every request would be `host_not_allowed` (`bad_port`).
 */
export function portAllowed(
  set: PolicySet,
  agent: string,
  host: string,
  port: number,
  pinned = false,
): boolean {
  const normal = normalizeHost(host);
  if (normal === undefined) return false;
  const policy = findPolicy(set, agent, normal);
  const ports = policy?.ports ?? (pinned ? undefined : DEFAULT_PORTS);
  return ports === undefined || ports.includes(port);
}

/** 0 = no match; wildcard = 1 + suffix length; exact = above any wildcard (hosts ≤ 253 chars). */
function matchScore(policy: CompiledPolicy, host: string): number {
  let score = 0;
  for (const pattern of policy.hosts) {
    if (!hostMatches(pattern, host)) continue;
    score = Math.max(score, pattern.startsWith("*.") ? pattern.length : 1000);
  }
  return score;
}

/**
 * Decides one request. Order: method, host, policy lookup (unknown hosts), path, then the
 * policy's rules (first match wins), then the policy's `default`.
 * @param _now reserved for time-dependent rules; unused today, so evaluation reads no clock.
 */
export function evaluate(set: PolicySet, req: EgressRequest, _now?: number): Decision {
  const method = normalizeMethod(req.method);
  if (method === undefined) return { verdict: "deny", code: "policy_denied", reason: "bad_method" };
  const host = normalizeHost(req.host);
  if (host === undefined) return { verdict: "deny", code: "host_not_allowed", reason: "bad_host" };
  const segments = splitPath(req.path);
  const policy = findPolicy(set, req.agent, host);

  if (policy === undefined) {
    if (set.defaults.unknownHosts !== "approve") {
      return { verdict: "deny", code: "host_not_allowed", reason: "unknown_host" };
    }
    // Approving "an unknown host" must not reach its SSH or database port.
    if (req.port !== undefined && !req.portPinned && !DEFAULT_PORTS.includes(req.port))
      return { verdict: "deny", code: "host_not_allowed", reason: "bad_port", policy: DEFAULTS_POLICY };
    // A human would approve what the card shows; an ambiguous path may not be what reaches upstream.
    if (segments === undefined) return refuse("ambiguous_path", DEFAULTS_POLICY);
    return approveWith(
      set.defaults,
      DEFAULTS_POLICY,
      "unknown_hosts",
      "any request to a host no policy names",
    );
  }

  const ports = policy.ports ?? (req.portPinned ? undefined : DEFAULT_PORTS);
  if (req.port !== undefined && ports !== undefined && !ports.includes(req.port))
    return { verdict: "deny", code: "host_not_allowed", reason: "bad_port", policy: policy.name };
  if (segments === undefined) return refuse("ambiguous_path", policy.name);
  const body = new BodyView(req);
  const rule = policy.rules.find((r) => ruleMatches(r, method, segments, body));
  if (rule !== undefined) return decide(set.defaults, policy, rule);

  if (policy.default === "allow") return { verdict: "allow", policy: policy.name, rule: "default" };
  if (policy.default === "approve")
    return approveWith(
      set.defaults,
      policy.name,
      "default",
      `any other request to ${policy.hosts.join(", ")}`,
    );
  return refuse("default_deny", policy.name, "default");
}

function decide(defaults: PolicyDefaults, policy: CompiledPolicy, rule: CompiledRule): Decision {
  if (rule.action === "allow") return { verdict: "allow", policy: policy.name, rule: rule.name };
  if (rule.action === "deny") return refuse("denied_by_rule", policy.name, rule.name);
  return {
    verdict: "approve",
    policy: policy.name,
    rule: rule.name,
    approvals: rule.approvals,
    approvers: rule.approvers ?? defaults.approvers,
    timeoutMs: rule.timeoutMs ?? defaults.approvalTimeoutMs,
    ...(rule.grantMs !== undefined && { grantMs: rule.grantMs }),
    covers: rule.covers,
    ...(rule.escalate && { escalate: rule.escalate }),
  };
}

/** A `policy_denied` refusal; `rule` is absent when no rule was reached. */
function refuse(reason: DenyReason, policy: string, rule?: string): Decision {
  return { verdict: "deny", code: "policy_denied", reason, policy, ...(rule !== undefined && { rule }) };
}

/** An approval that only `_defaults.yaml` shapes: one approver from the default list. */
function approveWith(defaults: PolicyDefaults, policy: string, rule: string, covers: string): Decision {
  return {
    verdict: "approve",
    policy,
    rule,
    approvals: 1,
    approvers: defaults.approvers,
    timeoutMs: defaults.approvalTimeoutMs,
    covers,
  };
}

function ruleMatches(
  rule: CompiledRule,
  method: string,
  segments: readonly string[],
  body: BodyView,
): boolean {
  if (rule.methods !== undefined && !rule.methods.has(method)) return false;
  if (rule.paths !== undefined && !rule.paths.some((matches) => matches(segments))) return false;
  if (rule.graphql !== undefined && !graphqlMatches(rule, rule.graphql, body.graphql())) return false;
  return rule.bodyContains === undefined || bodyMatches(rule, rule.bodyContains, body.canonical);
}

/**
 * `body_contains` matches when the canonical body contains ANY needle, case-insensitively.
 * No body means there is nothing to contain a needle: no match. An unreadable body (binary,
 * compressed, multipart, bad charset, ambiguous JSON, too large) might hide a needle, so it
 * matches deny and approve rules (fail closed: refuse or ask) and never matches allow rules.
 * A readable body has several readings (literal, look-alike folded): deny and approve rules match
 * when any reading has a needle; allow rules only when every reading does.
 */
function bodyMatches(rule: CompiledRule, needles: readonly string[], body: CanonicalBody): boolean {
  if (body.kind === "unreadable") return rule.action !== "allow";
  if (body.kind === "empty") return false;
  const folded = needles.map(foldForMatch);
  const has = (reading: string): boolean =>
    needles.some((n) => reading.includes(n)) || folded.some((n) => n !== "" && reading.includes(n));
  return rule.action === "allow" ? body.readings.every(has) : body.readings.some(has);
}

/**
 * `graphql: [types]` matches when the operation to be executed is of a listed type. Batches and
 * unnamed multi-operation documents can execute several: deny and approve rules match when any
 * may run, allow rules only when all are listed. Not GraphQL at all (no body): no match.
 */
function graphqlMatches(rule: CompiledRule, types: ReadonlySet<string>, found: GraphqlOperations): boolean {
  if (found === "unreadable") return rule.action !== "allow";
  if (found.size === 0) return false;
  const listed = [...found].filter((t) => types.has(t));
  return rule.action === "allow" ? listed.length === found.size : listed.length > 0;
}

/** The request body as rules read it, computed once per request and only when a rule asks. */
class BodyView {
  readonly canonical: CanonicalBody;
  #graphql: GraphqlOperations | undefined;
  constructor(private readonly req: EgressRequest) {
    this.canonical = req.canonical ?? legacyCanonical(req);
  }
  graphql(): GraphqlOperations {
    this.#graphql ??= graphqlOperations(this.canonical, queryPairs(this.req.query));
    return this.#graphql;
  }
}

/** `body`/`bodyUnreadable` (callers that predate `canonical`): UTF-8 text of no declared type. */
function legacyCanonical(req: EgressRequest): CanonicalBody {
  if (req.bodyUnreadable === true) return { kind: "unreadable", why: "unreadable body" };
  if (req.body === undefined) return { kind: "empty" };
  return canonicalBody(new TextEncoder().encode(req.body), undefined, undefined);
}

/** Decoded `key=value` pairs of a raw query; undecodable parts are kept raw (GraphQL then fails closed). */
function queryPairs(query: string | undefined): [string, string][] {
  if (query === undefined || query === "") return [];
  return query.split("&").map((part): [string, string] => {
    const eq = part.indexOf("=");
    const [k, v] = eq < 0 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)];
    return [decodeLoosely(k), decodeLoosely(v)];
  });
}

function decodeLoosely(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll("+", " "));
  } catch {
    return s;
  }
}
