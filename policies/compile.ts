/**
 * Builds the frozen runtime objects `evaluate` reads from validated policy files. Validation
 * already normalised every field (see `schema.ts`); this step only renames, fills defaults,
 * precomputes `needsBody` and freezes, so nothing downstream can mutate a policy in force.
 */

import {
  DEFAULT_APPROVAL_TIMEOUT_MS,
  DEFAULT_APPROVERS,
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
  const rules = parsed.rules.map(compileRule);
  const secrets: Record<string, SecretUse> = {};
  for (const [secret, use] of Object.entries(parsed.secrets))
    secrets[secret] = Object.freeze({ body: use.body });
  return Object.freeze({
    name,
    file,
    hosts: Object.freeze([...new Set(parsed.hosts)]),
    agents: Object.freeze([...new Set(parsed.agents)]),
    allowPrivate: parsed.allow_private,
    secrets: Object.freeze(secrets),
    ...(parsed.rate_limit === undefined ? {} : { rateLimit: Object.freeze({ ...parsed.rate_limit }) }),
    rules: Object.freeze(rules),
    default: parsed.default,
    // The gateway buffers bodies only when a rule could look at one.
    needsBody: rules.some((rule) => rule.bodyContains !== undefined),
  });
}

/** Global settings used when there is no `_defaults.yaml`: fail closed on unknown hosts. */
export const DEFAULT_DEFAULTS: PolicyDefaults = Object.freeze({
  unknownHosts: "deny",
  approvalTimeoutMs: DEFAULT_APPROVAL_TIMEOUT_MS,
  approvers: DEFAULT_APPROVERS,
});

/** Converts validated `_defaults.yaml` contents into `PolicyDefaults`. */
export function compileDefaults(parsed: DefaultsFile): PolicyDefaults {
  return Object.freeze({
    unknownHosts: parsed.unknown_hosts,
    approvalTimeoutMs: parsed.approval_timeout,
    approvers: Object.freeze([...parsed.approvers]),
  });
}

function compileRule(rule: PolicyFile["rules"][number]): CompiledRule {
  // Optional fields are left absent rather than set to undefined: "absent" means "any"/"inherit".
  return Object.freeze({
    name: rule.name,
    action: rule.action,
    approvals: rule.approvals ?? 1,
    ...(rule.methods && { methods: new Set(rule.methods) }),
    ...(rule.paths && { paths: Object.freeze([...rule.paths]) }),
    ...(rule.body_contains && { bodyContains: Object.freeze([...rule.body_contains]) }),
    ...(rule.approvers && { approvers: Object.freeze([...rule.approvers]) }),
    ...(rule.timeout !== undefined && { timeoutMs: rule.timeout }),
    ...(rule.grant !== undefined && { grantMs: rule.grant }),
  });
}
