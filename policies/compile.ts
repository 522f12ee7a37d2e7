/**
 * Builds the frozen runtime objects `evaluate` reads from validated policy files. Validation
 * already normalised every field (see `schema.ts`); this step only renames, fills defaults,
 * precomputes `needsBody` and freezes, so nothing downstream can mutate a policy in force.
 */

import {
  DEFAULT_APPROVAL_TIMEOUT_MS,
  DEFAULT_APPROVERS,
  DEFAULT_MAX_HELD_BYTES,
  DEFAULT_MAX_PENDING,
  type DefaultsFile,
  type PolicyFile,
} from "./schema.js";
import type { CompiledPolicy, CompiledRule, PolicyDefaults, SecretUse } from "./types.js";

/**
 * Compiles one validated policy file.
 * @param file the file it came from, kept for messages and tie-breaking in `findPolicy`.
 * @param name the policy name (the file's `name:`, or derived from the file name by the loader).
 */
export function compilePolicy(file: string, name: string, parsed: PolicyFile): CompiledPolicy {
  const hosts = [...new Set(parsed.hosts)];
  const rules = parsed.rules.map((rule) => compileRule(rule, hosts));
  const secrets: Record<string, SecretUse> = {};
  for (const [secret, use] of Object.entries(parsed.secrets))
    secrets[secret] = Object.freeze({
      body: use.body,
      ...(use.headers && { headers: Object.freeze([...new Set(use.headers)]) }),
      ...(use.query && { query: Object.freeze([...new Set(use.query)]) }),
    });
  return Object.freeze({
    name,
    file,
    hosts: Object.freeze(hosts),
    agents: Object.freeze([...new Set(parsed.agents)]),
    allowPrivate: parsed.allow_private,
    ...(parsed.ports !== undefined && { ports: Object.freeze([...new Set(parsed.ports)]) }),
    secrets: Object.freeze(secrets),
    ...(parsed.rate_limit === undefined ? {} : { rateLimit: Object.freeze({ ...parsed.rate_limit }) }),
    rules: Object.freeze(rules),
    default: parsed.default,
    // The gateway buffers bodies only when a rule could look at one.
    needsBody: rules.some((rule) => rule.bodyContains !== undefined || rule.graphql !== undefined),
  });
}

/** Global settings used when there is no `_defaults.yaml`: fail closed on unknown hosts. */
export const DEFAULT_DEFAULTS: PolicyDefaults = Object.freeze({
  unknownHosts: "deny",
  approvalTimeoutMs: DEFAULT_APPROVAL_TIMEOUT_MS,
  approvers: DEFAULT_APPROVERS,
  maxPending: DEFAULT_MAX_PENDING,
  maxHeldBytes: DEFAULT_MAX_HELD_BYTES,
});

/** Converts validated `_defaults.yaml` contents into `PolicyDefaults`. */
export function compileDefaults(parsed: DefaultsFile): PolicyDefaults {
  return Object.freeze({
    unknownHosts: parsed.unknown_hosts,
    approvalTimeoutMs: parsed.approval_timeout,
    approvers: Object.freeze([...parsed.approvers]),
    maxPending: parsed.max_pending,
    maxHeldBytes: parsed.max_held_bytes,
  });
}

type RuleFile = PolicyFile["rules"][number];

function compileRule(rule: RuleFile, hosts: readonly string[]): CompiledRule {
  // Optional fields are left absent rather than set to undefined: "absent" means "any"/"inherit".
  return Object.freeze({
    name: rule.name,
    action: rule.action,
    approvals: rule.approvals ?? 1,
    covers: describeRule(rule, hosts),
    ...(rule.methods && { methods: new Set(rule.methods) }),
    ...(rule.paths && { paths: Object.freeze(rule.paths.map((p) => p.match)) }),
    ...(rule.body_contains && { bodyContains: Object.freeze([...rule.body_contains]) }),
    ...(rule.graphql && { graphql: new Set(rule.graphql) }),
    ...(rule.approvers && { approvers: Object.freeze([...rule.approvers]) }),
    ...(rule.timeout !== undefined && { timeoutMs: rule.timeout }),
    ...(rule.grant !== undefined && { grantMs: rule.grant }),
    ...(rule.escalate && {
      escalate: Object.freeze({
        afterMs: rule.escalate.after,
        to: Object.freeze([...new Set(rule.escalate.to)]),
      }),
    }),
  });
}

/**
 * What a rule matches, in its own terms, for "Approve all … for 15 min": its methods and path
 * globs as written ("PUT /repos/…/merge"), its GraphQL and body conditions, and the policy's
 * hosts when it names no path; "any request to <hosts>" when the rule has no conditions.
 */
export function describeRule(rule: RuleFile, hosts: readonly string[]): string {
  const { methods, paths, graphql, body_contains: needles } = rule;
  if (!methods && !paths && !graphql && !needles) return `any request to ${hosts.join(", ")}`;
  let out = `${methods ? [...new Set(methods)].join(", ") : "any method"} ${
    paths ? paths.map((p) => p.glob).join(", ") : "any path"
  }`;
  if (graphql) out += ` (GraphQL ${[...new Set(graphql)].join(" or ")})`;
  if (needles) out += ` with a body containing ${needles.map((n) => JSON.stringify(n)).join(" or ")}`;
  return paths ? out : `${out} on ${hosts.join(", ")}`;
}
