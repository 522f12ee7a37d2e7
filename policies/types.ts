/**
 * Types shared by the policy schema, compiler and evaluator. Pure data: nothing here does I/O.
 */

/** What a rule (or a policy's `default`) tells the gateway to do. */
export type Action = "allow" | "approve" | "deny";

/** The request as the evaluator sees it. Everything in it comes from the (hostile) agent. */
export interface EgressRequest {
  readonly agent: string;
  /** As sent; the evaluator uppercases and validates it. */
  readonly method: string;
  /** As sent (may carry case, a trailing dot, a port is NOT included). */
  readonly host: string;
  /** Raw path of the request target without the query, still percent-encoded, e.g. "/repos/a/b". */
  readonly path: string;
  /** Textual body, only present when the gateway buffered it (see `needsBody`). */
  readonly body?: string;
  /**
   * Optional: set when the request HAS a body the gateway could not read as text (binary,
   * content-encoded, over the buffer limit). `body_contains` rules then fail closed: deny and
   * approve rules match, allow rules don't. Absent/false with `body` undefined means "no body".
   */
  readonly bodyUnreadable?: boolean;
}

/** Why a request was denied by the evaluator. */
export type DenyReason =
  | "bad_host" // host is not a name we accept (userinfo, bad chars, empty)
  | "bad_method" // method is not an HTTP token
  | "ambiguous_path" // `..`, `.`, encoded slash/backslash/dot, `//`, bad percent-encoding, NUL
  | "unknown_host" // no policy lists the host and `_defaults.unknown_hosts` is deny
  | "denied_by_rule"
  | "default_deny"; // no rule matched and the policy's default is deny

/** Wire error codes the evaluator can produce (a subset of the gateway's codes). */
export type PolicyDenyCode = "host_not_allowed" | "policy_denied";

/** Outcome of `evaluate`. `rule` is "default" when the policy's default applied. */
export type Decision =
  | { readonly verdict: "allow"; readonly policy: string; readonly rule: string }
  | {
      readonly verdict: "approve";
      readonly policy: string;
      readonly rule: string;
      /** Distinct approvers needed (>= 1). */
      readonly approvals: number;
      /** `<platform>:<userId>` or `role:<name>` entries. */
      readonly approvers: readonly string[];
      readonly timeoutMs: number;
      /** Present when the rule offers "Approve for <grant>". */
      readonly grantMs?: number;
    }
  | {
      readonly verdict: "deny";
      readonly code: PolicyDenyCode;
      readonly reason: DenyReason;
      readonly policy?: string;
      readonly rule?: string;
    };

/** Global settings from `_defaults.yaml`. */
export interface PolicyDefaults {
  readonly unknownHosts: "deny" | "approve";
  readonly approvalTimeoutMs: number;
  readonly approvers: readonly string[];
}

export interface CompiledRule {
  readonly name: string;
  readonly action: Action;
  /** Uppercased; undefined = any method. */
  readonly methods?: ReadonlySet<string>;
  /** Compiled path globs; undefined = any path. */
  readonly paths?: readonly ((segments: readonly string[]) => boolean)[];
  /** Lowercased needles; undefined = no body condition. */
  readonly bodyContains?: readonly string[];
  readonly approvals: number;
  readonly approvers?: readonly string[];
  readonly timeoutMs?: number;
  readonly grantMs?: number;
}

export interface SecretUse {
  /** Swap placeholders in textual request bodies too. */
  readonly body: boolean;
}

export interface RateLimit {
  readonly count: number;
  readonly perMs: number;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly file: string;
  /** Lowercased patterns: exact host or "*." + suffix. */
  readonly hosts: readonly string[];
  /** Agent names, or "*" for all. */
  readonly agents: readonly string[];
  readonly allowPrivate: boolean;
  readonly secrets: Readonly<Record<string, SecretUse>>;
  readonly rateLimit?: RateLimit;
  readonly rules: readonly CompiledRule[];
  readonly default: Action;
  /** True when some rule has `body_contains`: the gateway must buffer the body before evaluating. */
  readonly needsBody: boolean;
}

/** Every policy file of a directory, validated and compiled together. */
export interface PolicySet {
  readonly defaults: PolicyDefaults;
  readonly policies: readonly CompiledPolicy[];
}

/** One validation problem, pointing at a file and (when known) a 1-based line. */
export interface PolicyIssue {
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

export type CompileResult =
  | { readonly ok: true; readonly set: PolicySet }
  | { readonly ok: false; readonly issues: readonly PolicyIssue[] };
