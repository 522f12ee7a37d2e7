/**
 * The policy decision: (PolicySet, EgressRequest) → Decision. Start auditing here.
 *
 * Threat model: every field of the request comes from a hostile agent; the policy set is trusted.
 * We normalise method and host strictly and refuse anything odd (`normalize.ts`), refuse paths
 * that servers could read two ways (`split-path.ts`), and fail closed everywhere else: a host no
 * policy names is denied unless `_defaults.unknown_hosts` says approve, a policy without a
 * matching rule applies its `default` (itself `deny` when omitted), and a body rule that cannot
 * see the body never lets a request through (see `bodyMatches`). Pure: no I/O, no clock.
 */

import { hostMatches, normalizeHost, normalizeMethod, splitPath } from "./normalize.js";
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
    // A human would approve what the card shows; an ambiguous path may not be what reaches upstream.
    if (segments === undefined) return refuse("ambiguous_path", DEFAULTS_POLICY);
    return approveWith(set.defaults, DEFAULTS_POLICY, "unknown_hosts");
  }

  if (segments === undefined) return refuse("ambiguous_path", policy.name);
  const rule = policy.rules.find((r) => ruleMatches(r, method, segments, req));
  if (rule !== undefined) return decide(set.defaults, policy, rule);

  if (policy.default === "allow") return { verdict: "allow", policy: policy.name, rule: "default" };
  if (policy.default === "approve") return approveWith(set.defaults, policy.name, "default");
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
  };
}

/** A `policy_denied` refusal; `rule` is absent when no rule was reached. */
function refuse(reason: DenyReason, policy: string, rule?: string): Decision {
  return { verdict: "deny", code: "policy_denied", reason, policy, ...(rule !== undefined && { rule }) };
}

/** An approval that only `_defaults.yaml` shapes: one approver from the default list. */
function approveWith(defaults: PolicyDefaults, policy: string, rule: string): Decision {
  return {
    verdict: "approve",
    policy,
    rule,
    approvals: 1,
    approvers: defaults.approvers,
    timeoutMs: defaults.approvalTimeoutMs,
  };
}

function ruleMatches(
  rule: CompiledRule,
  method: string,
  segments: readonly string[],
  req: EgressRequest,
): boolean {
  if (rule.methods !== undefined && !rule.methods.has(method)) return false;
  if (rule.paths !== undefined && !rule.paths.some((matches) => matches(segments))) return false;
  return rule.bodyContains === undefined || bodyMatches(rule, req);
}

/**
 * `body_contains` matches when the textual body contains ANY needle, case-insensitively.
 * No body (`body` undefined, not unreadable) means there is nothing to contain a needle: no match.
 * An unreadable body (binary, compressed, too large: `bodyUnreadable`) might hide a needle, so it
 * matches deny and approve rules (fail closed: refuse or ask) and never matches allow rules.
 */
function bodyMatches(rule: CompiledRule, req: EgressRequest): boolean {
  if (req.bodyUnreadable === true) return rule.action !== "allow";
  if (req.body === undefined) return false;
  const body = req.body.toLowerCase();
  return (rule.bodyContains ?? []).some((needle) => body.includes(needle));
}
