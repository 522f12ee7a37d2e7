/**
 * Zod schemas for policy files and `_defaults.yaml` (DESIGN.md §4), the only file that imports
 * zod. Objects are strict so a typo such as `metods:` is an error instead of a rule that silently
 * matches every method. Field parsers normalise as they validate (hosts lowercased, methods
 * uppercased, durations in ms, globs compiled), so the output is ready for `compile.ts`.
 */

import { z } from "zod";
import { compileGlob } from "./compile-glob.js";
import { describeIssue, describeValue, type IssueLike, type SchemaIssue } from "./describe-issue.js";
import { DURATION_HINT, parseDuration, parseRate, RATE_HINT } from "./duration.js";
import { normalizeHostPattern, normalizeMethod } from "./normalize.js";

export type { SchemaIssue } from "./describe-issue.js";

/** Policy, rule and agent names: what fits in an audit line, a card and a URL unescaped. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const PLATFORM_RE = /^[a-z][a-z0-9_-]{0,31}$/;
const ROLE_RE = /^[a-z][a-z0-9_-]{0,63}$/;
const USER_ID_RE = /^[!-~]{1,128}$/; // printable ASCII, no spaces
// RFC 9110 field-name token, lowercase: how header names are compared on the wire.
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9a-z-]{1,64}$/;
// Query keys as they appear decoded; printable ASCII keeps them unambiguous in cards and logs.
const QUERY_KEY_RE = /^[!-~]{1,64}$/;
const SIZE_RE = /^([0-9]{1,15})\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/;
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
};

/** Used when `_defaults.yaml` is absent or leaves `approvers` out. */
export const DEFAULT_APPROVERS: readonly string[] = ["role:owner", "role:admin"];
/** 15 minutes: used when `_defaults.yaml` is absent or leaves `approval_timeout` out. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 15 * 60_000;
/** Ports a policy allows when it lists none. */
export const DEFAULT_PORTS: readonly number[] = [80, 443];
/** Pending approvals per agent when `_defaults.yaml` says nothing (DESIGN §3.1). */
export const DEFAULT_MAX_PENDING = 20;
/** Held body bytes across agents when `_defaults.yaml` says nothing: 64 MiB. */
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024 ** 2;

/** Parses a size such as `64MiB`, `512KB` or `1048576` into bytes. */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m?.[1]) return undefined;
  const bytes = Number(m[1]) * (SIZE_UNITS[m[2] ?? "B"] ?? 1);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** True for a valid policy/rule/agent name (letters, digits, `_ . -`, not starting with `_`). */
export function isName(name: string): boolean {
  return NAME_RE.test(name);
}

/** True for `<platform>:<userId>` (e.g. `telegram:12345`) or `role:<name>` (e.g. `role:admin`). */
export function isApproverId(id: string): boolean {
  const colon = id.indexOf(":");
  const platform = id.slice(0, colon);
  const rest = id.slice(colon + 1);
  if (colon < 0) return false;
  return platform === "role" ? ROLE_RE.test(rest) : PLATFORM_RE.test(platform) && USER_ID_RE.test(rest);
}

/** Error callback: "is required" when missing, otherwise what was expected and what we got. */
function expected(what: string): { error: (iss: { input?: unknown }) => string } {
  return {
    error: (iss) =>
      iss.input === undefined ? "is required" : `must be ${what}, got ${describeValue(iss.input)}`,
  };
}

/** A string field checked and converted by `parse`; `undefined` from `parse` means invalid. */
function text<T>(what: string, parse: (value: string) => T | undefined) {
  return z.string(expected(what)).transform((value, ctx): T => {
    const out = parse(value);
    if (out !== undefined) return out;
    ctx.issues.push({
      code: "custom",
      input: value,
      message: `must be ${what}, got ${describeValue(value)}`,
    });
    return z.NEVER;
  });
}

function list<T extends z.ZodType>(item: T, what: string) {
  return z.array(item, expected(`a list of ${what}`)).min(1, "must not be empty");
}

const name = text("a name of letters, digits, '_', '.' or '-'", (s) => (isName(s) ? s : undefined));
const duration = text(DURATION_HINT, parseDuration);
const approver = text('an approver like "telegram:12345" or "role:admin"', (s) =>
  isApproverId(s) ? s : undefined,
);
const action = z.enum(["allow", "approve", "deny"], expected("allow, approve or deny"));
const port = z
  .int(expected("a port number"))
  .min(1, "must be a port (1-65535)")
  .max(65535, "must be a port (1-65535)");
const headerName = text("a header name like authorization or x-api-key", (s) => {
  const lower = s.toLowerCase();
  return HEADER_NAME_RE.test(lower) ? lower : undefined;
});
const queryKey = text("a query parameter key", (s) => (QUERY_KEY_RE.test(s) ? s : undefined));
const size = z.union([z.int(), z.string()], expected("a size like 64MiB")).transform((value, ctx): number => {
  const out = typeof value === "number" ? (value > 0 ? value : undefined) : parseSize(value);
  if (out !== undefined) return out;
  ctx.issues.push({
    code: "custom",
    input: value,
    message: `must be a size like 64MiB, got ${describeValue(value)}`,
  });
  return z.NEVER;
});

const APPROVE_ONLY_KEYS = ["approvals", "approvers", "timeout", "grant", "escalate"] as const;

/** `escalate: { after: 10m, to: [role:owner] }`: more people are asked when nobody answered in time. */
const EscalateSchema = z.strictObject(
  { after: duration, to: list(approver, "approvers") },
  expected('a mapping like { after: 10m, to: ["role:owner"] }'),
);

const RuleSchema = z
  .strictObject(
    {
      name: name.optional(),
      methods: list(text("an HTTP method like GET or POST", normalizeMethod), "methods").optional(),
      paths: list(
        text('a path like "/v1/items/*" or "/files/**"', (glob) => {
          const match = compileGlob(glob);
          return match && { glob, match };
        }),
        "paths",
      ).optional(),
      body_contains: list(
        z
          .string(expected("text"))
          .min(1, "must not be empty")
          .transform((s) => s.toLowerCase()),
        "strings",
      ).optional(),
      graphql: list(
        z.enum(["query", "mutation", "subscription"], expected("query, mutation or subscription")),
        "GraphQL operation types",
      ).optional(),
      action,
      approvals: z.int(expected("a whole number")).min(1, "must be at least 1").optional(),
      approvers: list(approver, "approvers").optional(),
      timeout: duration.optional(),
      grant: duration.optional(),
      escalate: EscalateSchema.optional(),
    },
    expected("a mapping with at least an action"),
  )
  .superRefine((rule, ctx) => {
    // Escalating when the request has already expired would ask people who can no longer answer.
    // (A rule without `timeout` is checked against `_defaults.yaml` by the loader.)
    if (rule.escalate && rule.timeout !== undefined && rule.escalate.after >= rule.timeout)
      ctx.addIssue({
        code: "custom",
        path: ["escalate", "after"],
        message: "must be shorter than the rule's timeout",
      });
    // An approval setting on an allow/deny rule is a misunderstanding worth surfacing.
    if (rule.action === "approve") return;
    for (const key of APPROVE_ONLY_KEYS) {
      if (rule[key] === undefined) continue;
      ctx.addIssue({ code: "custom", path: [key], message: `only applies to rules with action: approve` });
    }
  });

const SecretUseSchema = z.strictObject(
  {
    body: z.boolean(expected("true or false")).default(false),
    headers: list(headerName, "header names").optional(),
    query: list(queryKey, "query parameter keys").optional(),
  },
  expected("{}, { body: true }, { headers: [authorization] } or { query: [key] }"),
);

const PolicyObject = z.strictObject(
  {
    name: name.optional(),
    hosts: list(text('a host like "api.example.com" or "*.example.com"', normalizeHostPattern), "hosts"),
    agents: list(
      text('an agent name or "*"', (s) => (s === "*" || isName(s) ? s : undefined)),
      "agents",
    ).default(["*"]),
    allow_private: z.boolean(expected("true or false")).default(false),
    ports: list(port, "ports").optional(),
    secrets: z
      .record(
        z.string().regex(SECRET_NAME_RE, "secret names are letters, digits and '_' (an env var name)"),
        SecretUseSchema,
        expected("a mapping of secret names, like GITHUB_TOKEN: {}"),
      )
      .default({}),
    rate_limit: text(RATE_HINT, parseRate).optional(),
    rules: z.array(RuleSchema, expected("a list of rules")).default([]),
    // Fail closed: a policy that forgets `default` denies whatever its rules don't mention.
    default: action.default("deny"),
  },
  expected("a mapping with keys like hosts: and rules:"),
);

/** A policy file after validation; `rules[].name` is filled in (`rule-<n>`, 1-based) when absent. */
export const PolicyFileSchema = PolicyObject.superRefine((policy, ctx) => {
  const seen = new Set<string>();
  policy.rules.forEach((rule, i) => {
    const ruleName = rule.name ?? `rule-${i + 1}`;
    // "default" is what decisions report when no rule matched; a rule may not impersonate it.
    if (ruleName === "default")
      ctx.addIssue({ code: "custom", path: ["rules", i, "name"], message: `"default" is reserved` });
    else if (seen.has(ruleName))
      ctx.addIssue({
        code: "custom",
        path: ["rules", i, "name"],
        message: `duplicate rule name "${ruleName}"`,
      });
    seen.add(ruleName);
  });
}).transform((policy) => ({
  ...policy,
  rules: policy.rules.map((rule, i) => ({ ...rule, name: rule.name ?? `rule-${i + 1}` })),
}));

/** `_defaults.yaml` after validation, with every default filled in. */
export const DefaultsFileSchema = z.strictObject(
  {
    unknown_hosts: z.enum(["deny", "approve"], expected("deny or approve")).default("deny"),
    approval_timeout: duration.default(DEFAULT_APPROVAL_TIMEOUT_MS),
    approvers: list(approver, "approvers").default([...DEFAULT_APPROVERS]),
    max_pending: z.int(expected("a whole number")).min(1, "must be at least 1").default(DEFAULT_MAX_PENDING),
    max_held_bytes: size.default(DEFAULT_MAX_HELD_BYTES),
  },
  expected("a mapping with keys like unknown_hosts:"),
);

export type PolicyFile = z.output<typeof PolicyFileSchema>;
export type DefaultsFile = z.output<typeof DefaultsFileSchema>;

/** Outcome of checking parsed YAML against a schema. */
export type SchemaResult<T> = { ok: true; value: T } | { ok: false; issues: SchemaIssue[] };

/** Validates the parsed YAML of one policy file. */
export function checkPolicyFile(data: unknown): SchemaResult<PolicyFile> {
  return check(PolicyFileSchema, data, (path) => {
    if (path.length === 0) return Object.keys(PolicyObject.shape);
    if (path.length === 2 && path[0] === "rules") return Object.keys(RuleSchema.shape);
    if (path.length === 3 && path[2] === "escalate") return Object.keys(EscalateSchema.shape);
    return path[0] === "secrets" ? Object.keys(SecretUseSchema.shape) : [];
  });
}

/** Validates the parsed YAML of `_defaults.yaml` (`{}` yields all the defaults). */
export function checkDefaultsFile(data: unknown): SchemaResult<DefaultsFile> {
  return check(DefaultsFileSchema, data, () => Object.keys(DefaultsFileSchema.shape));
}

function check<S extends z.ZodType>(
  schema: S,
  data: unknown,
  keysAt: (path: readonly PropertyKey[]) => readonly string[],
): SchemaResult<z.output<S>> {
  const result = schema.safeParse(data);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    issues: result.error.issues.flatMap((issue) => describeIssue(issue as IssueLike, keysAt)),
  };
}
