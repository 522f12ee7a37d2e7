/**
 * The only import surface of `policies/`: YAML policy validation and the pure evaluator used by
 * `gateway/`. Nothing here does I/O or reads a clock; callers read files and pass their text.
 */

export { DEFAULT_DEFAULTS } from "./compile.js";
export type { PathMatcher } from "./compile-glob.js";
export { DURATION_HINT, parseDuration, parseRate, RATE_HINT } from "./duration.js";
export { DEFAULTS_POLICY, evaluate, findPolicy } from "./evaluate.js";
export { compilePolicies, formatIssues, isPolicyFileName, type PolicySource } from "./load.js";
export { hostMatches, normalizeHost, normalizeHostPattern, normalizeMethod, splitPath } from "./normalize.js";
export { isApproverId } from "./schema.js";
export type {
  Action,
  CompiledPolicy,
  CompiledRule,
  CompileResult,
  Decision,
  DenyReason,
  EgressRequest,
  PolicyDefaults,
  PolicyDenyCode,
  PolicyIssue,
  PolicySet,
  RateLimit,
  SecretUse,
} from "./types.js";
