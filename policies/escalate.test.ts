/**
 * `escalate: { after, to }` on approve rules (DESIGN §4): strict keys, durations, approver ids, line
 * numbers, and `after` shorter than the rule's timeout (or `_defaults.yaml`'s) else an error.
 */
import { describe, expect, it } from "vitest";
import { evaluate } from "./evaluate.js";
import { compilePolicies, formatIssues } from "./load.js";
import type { PolicyIssue, PolicySet } from "./types.js";

const RULE = (body: string): string =>
  `hosts: [api.github.com]\nrules:\n  - name: merge\n    methods: [PUT]\n${body}`;

function issuesOf(...files: [string, string][]): PolicyIssue[] {
  const r = compilePolicies(files.map(([file, text]) => ({ file, text })));
  if (r.ok) throw new Error("expected the files to be rejected");
  return [...r.issues];
}

function setOf(...files: [string, string][]): PolicySet {
  const r = compilePolicies(files.map(([file, text]) => ({ file, text })));
  if (!r.ok) throw new Error(formatIssues(r.issues));
  return r.set;
}

const GOOD = RULE(
  '    action: approve\n    timeout: 30m\n    escalate: { after: 10m, to: ["role:owner", "telegram:1"] }\n',
);

describe("policy escalate", () => {
  it("compiles into the rule and the approve decision", () => {
    const set = setOf(["github.yaml", GOOD]);
    expect(set.policies[0]?.rules[0]?.escalate).toEqual({
      afterMs: 600_000,
      to: ["role:owner", "telegram:1"],
    });
    const d = evaluate(set, { agent: "a", method: "PUT", host: "api.github.com", path: "/x" });
    expect(d).toMatchObject({
      verdict: "approve",
      escalate: { afterMs: 600_000, to: ["role:owner", "telegram:1"] },
    });
  });

  it("is absent from decisions of rules without it", () => {
    const set = setOf(["github.yaml", RULE("    action: approve\n")]);
    const d = evaluate(set, { agent: "a", method: "PUT", host: "api.github.com", path: "/x" });
    expect(d.verdict === "approve" && "escalate" in d).toBe(false);
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["unknown key inside",      RULE("    action: approve\n    escalate:\n      after: 5m\n      too: [role:owner]\n      to: [role:owner]\n"), 8, 'rules[0].escalate.too: unknown key "too" (did you mean "to"?)'],
    ["missing to",              RULE("    action: approve\n    escalate:\n      after: 5m\n"),                       6, "rules[0].escalate.to: is required"],
    ["bad duration",            RULE("    action: approve\n    escalate: { after: soon, to: [role:owner] }\n"),      6, 'rules[0].escalate.after: must be a duration'],
    ["bad approver",            RULE("    action: approve\n    escalate: { after: 5m, to: [owner] }\n"),             6, 'rules[0].escalate.to[0]: must be an approver'],
    ["empty to",                RULE("    action: approve\n    escalate: { after: 5m, to: [] }\n"),                  6, "rules[0].escalate.to: must not be empty"],
    ["not a mapping",           RULE("    action: approve\n    escalate: 10m\n"),                                    6, "rules[0].escalate: must be a mapping like"],
    ["on an allow rule",        RULE("    action: allow\n    escalate: { after: 5m, to: [role:owner] }\n"),          6, "rules[0].escalate: only applies to rules with action: approve"],
    ["after = timeout",         RULE("    action: approve\n    timeout: 10m\n    escalate:\n      after: 10m\n      to: [role:owner]\n"), 8, "rules[0].escalate.after: must be shorter than the rule's timeout"],
    ["after > timeout",         RULE("    action: approve\n    timeout: 5m\n    escalate: { after: 1h, to: [role:owner] }\n"), 7, "rules[0].escalate.after: must be shorter than the rule's timeout"],
  ])("rejects %s with its line", (_why, text, line, message) => {
    const issues = issuesOf(["github.yaml", text]);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: "github.yaml", line });
    expect(issues[0]?.message).toContain(message);
  });

  it("a rule without timeout is checked against _defaults.yaml's approval_timeout", () => {
    const text = RULE("    action: approve\n    escalate:\n      after: 20m\n      to: [role:owner]\n");
    // Default approval timeout is 15 minutes: 20m is too late.
    expect(issuesOf(["github.yaml", text])).toEqual([
      expect.objectContaining({
        file: "github.yaml",
        line: 7,
        message: expect.stringContaining("approval_timeout"),
      }),
    ]);
    // With a longer default, the same file is fine.
    expect(setOf(["_defaults.yaml", "approval_timeout: 1h\n"], ["github.yaml", text]).policies).toHaveLength(
      1,
    );
    // And a shorter one is checked too, whatever order the files come in.
    expect(
      issuesOf(
        ["z.yaml", RULE("    action: approve\n    escalate: { after: 2m, to: [role:owner] }\n")],
        ["_defaults.yaml", "approval_timeout: 2m\n"],
      ),
    ).toHaveLength(1);
  });
});
