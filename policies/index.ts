/**
 * The only import surface of `policies/`: YAML policy validation and the pure evaluator used by
 * `gateway/`. Nothing here does I/O or reads a clock; callers read files and pass their text.
 */

export {
  type CanonicalBody,
  canonicalBody,
  foldForMatch,
  isJsonType,
  parseContentType,
} from "./canonical-body.js";
export { DEFAULT_DEFAULTS } from "./compile.js";
export type { PathMatcher } from "./compile-glob.js";
export { DURATION_HINT, parseDuration, parseRate, RATE_HINT } from "./duration.js";
export { DEFAULTS_POLICY, evaluate, findPolicy, portAllowed } from "./evaluate.js";
export { compilePolicies, formatIssues, isPolicyFileName, type PolicySource } from "./load.js";
export { type MethodOverride, methodOverrides, type OverrideResult, strictest } from "./method-override.js";
export { hostMatches, normalizeHost, normalizeHostPattern, normalizeMethod, splitPath } from "./normalize.js";
export { isApproverId, parseSize } from "./schema.js";
export {
  type CannotReplayReason,
  type ReplayExample,
  type ReplayOptions,
  type ReplayReport,
  type ReplayRow,
  type ReplayTransition,
  type ReplayVerdict,
  replayAudit,
} from "./replay.js";
export {
  type PlacementInput,
  type PlacementResult,
  placeSecrets,
  type SecretPlacement,
} from "./secret-places.js";
export type {
  Action,
  CompiledPolicy,
  CompiledRule,
  CompileResult,
  Decision,
  DenyReason,
  EgressRequest,
  Escalation,
  OperationType,
  PolicyDefaults,
  PolicyDenyCode,
  PolicyIssue,
  PolicySet,
  RateLimit,
  SecretUse,
} from "./types.js";
