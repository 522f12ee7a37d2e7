/**
 * Types shared by the policy schema, compiler and evaluator. Pure data: nothing here does I/O.
 */

import type { CanonicalBody } from "./canonical-body.js";
import type { OperationType } from "./graphql-operations.js";

export type { CanonicalBody } from "./canonical-body.js";
export type { OperationType } from "./graphql-operations.js";

/** What a rule (or a policy's `default`) tells the gateway to do. */
export type Action = "allow" | "approve" | "deny";

/** The request as the evaluator sees it. Everything in it comes from the (hostile) agent. */
export interface EgressRequest {
  readonly agent: string;
  /** As sent; the evaluator uppercases and validates it. */
  readonly method: string;
  /** As sent (may carry case, a trailing dot, a port is NOT included). */
  readonly host: string;
  /**
   * The port the request names. Checked against the policy's `ports` (default 80 and 443).
   * Absent = not checked.
   */
  readonly port?: number;
  /**
   * The host is pinned by `--resolve` (operator intent): the dialled port is the operator's whatever
   * the URL says, so only a policy's explicit `ports` are checked, not the 80/443 default.
   */
  readonly portPinned?: boolean;
  /** Raw path of the request target without the query, still percent-encoded, e.g. "/repos/a/b". */
  readonly path: string;
  /**
   * The body as an upstream would read it (see `canonical-body.ts`), present when the gateway
   * buffered it (see `needsBody`). Takes precedence over `body`/`bodyUnreadable`.
   */
  readonly canonical?: CanonicalBody;
  /** Raw query string without the `?` (GraphQL rules read `query=`/`operationName=` there too). */
  readonly query?: string;
  /** Legacy: textual body, read as UTF-8 text with no declared type (prefer `canonical`). */
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
  | "bad_port" // the port is not in the policy's `ports` (default 80, 443)
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
      /** What a grant of this rule covers, in the rule's own terms: "PUT /repos/…/merge". */
      readonly covers: string;
      /** Present when the rule escalates: who else is asked when nobody has answered after `afterMs`. */
      readonly escalate?: Escalation;
    }
  | {
      readonly verdict: "deny";
      readonly code: PolicyDenyCode;
      readonly reason: DenyReason;
      readonly policy?: string;
      readonly rule?: string;
    };

/** A rule's `escalate: { after, to }`: `to` are approver ids (`<platform>:<userId>` or `role:<name>`). */
export interface Escalation {
  readonly afterMs: number;
  readonly to: readonly string[];
}

/** Global settings from `_defaults.yaml`. */
export interface PolicyDefaults {
  readonly unknownHosts: "deny" | "approve";
  readonly approvalTimeoutMs: number;
  readonly approvers: readonly string[];
  /** Pending approvals per agent before new ones are refused (`too_many_pending`). */
  readonly maxPending: number;
  /** Bytes of held request bodies across all agents before new holds are refused. */
  readonly maxHeldBytes: number;
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
  /** GraphQL operation types the rule matches; undefined = no GraphQL condition. */
  readonly graphql?: ReadonlySet<OperationType>;
  /** Human summary of what the rule matches (a grant's coverage on cards). */
  readonly covers: string;
  readonly approvals: number;
  readonly approvers?: readonly string[];
  readonly timeoutMs?: number;
  readonly grantMs?: number;
  readonly escalate?: Escalation;
}

export interface SecretUse {
  /** Swap placeholders in textual request bodies too. */
  readonly body: boolean;
  /**
   * Lowercase header names the placeholder may travel in. With `headers` or `query` set, a
   * placeholder anywhere else is `secret_misplaced`; with neither, header values and the request
   * line are fine (the behaviour before placements existed).
   */
  readonly headers?: readonly string[];
  /** Query parameter keys the placeholder may travel in (see `headers`). */
  readonly query?: readonly string[];
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
  /** Ports requests may name (default 80 and 443); others are `host_not_allowed`. */
  /**
   * The `ports` the file lists; absent = not listed, meaning 80 and 443 (`DEFAULT_PORTS`), except
   * for hosts pinned by `--resolve`, where the dialled port is the operator's whatever the URL says.
   */
  readonly ports?: readonly number[];
  readonly secrets: Readonly<Record<string, SecretUse>>;
  readonly rateLimit?: RateLimit;
  readonly rules: readonly CompiledRule[];
  readonly default: Action;
  /** True when some rule has `body_contains` or `graphql`: the gateway must buffer the body first. */
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
