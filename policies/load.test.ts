import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compilePolicies, formatIssues, isPolicyFileName } from "./load.js";
import type { PolicyIssue, PolicySet } from "./types.js";

function issuesOf(text: string, file = "github.yaml"): PolicyIssue[] {
  const result = compilePolicies([{ file, text }]);
  if (result.ok) throw new Error(`expected ${file} to be rejected`);
  return [...result.issues];
}

function setOf(...files: [string, string][]): PolicySet {
  const result = compilePolicies(files.map(([file, text]) => ({ file, text })));
  if (!result.ok) throw new Error(formatIssues(result.issues));
  return result.set;
}

const RULE = (body: string): string => `hosts: [api.github.com]\nrules:\n  - name: r\n${body}`;

describe("compilePolicies() rejects malformed files with file, line and a readable message", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    // why                                text                                                                ln  message fragment
    ["typo in a rule key",                RULE("    metods: [GET]\n    action: allow\n"),                     4,  'rules[0].metods: unknown key "metods" (did you mean "methods"?)'],
    ["typo at top level",                 "hosts: [a.test]\ndefualt: deny\n",                                 2,  'defualt: unknown key "defualt" (did you mean "default"?)'],
    ["bad duration",                      RULE("    action: approve\n    timeout: 30 minutes\n"),             5,  'rules[0].timeout: must be a duration like 30s, 15m, 2h or 1d, got "30 minutes"'],
    ["duration without unit",             RULE("    action: approve\n    grant: 30\n"),                       5,  "rules[0].grant: must be a duration like 30s, 15m, 2h or 1d, got 30"],
    ["bad action",                        RULE("    action: permit\n"),                                       4,  'rules[0].action: must be allow, approve or deny, got "permit"'],
    ["missing action",                    RULE("    methods: [GET]\n"),                                       3,  "rules[0].action: is required"],
    ["host with a scheme",                "hosts: [https://api.github.com]\n",                                1,  'hosts[0]: must be a host like "api.example.com" or "*.example.com", got "https://api.github.com"'],
    ["host with a port",                  "hosts:\n  - api.github.com\n  - api.github.com:443\n",             3,  "hosts[1]: must be a host"],
    ["wildcard in the middle",            "hosts: [api.*.com]\n",                                             1,  "hosts[0]: must be a host"],
    ["bare wildcard",                     'hosts: ["*"]\n',                                                   1,  "hosts[0]: must be a host"],
    ["wildcard over IP literals",         'hosts: ["*.0.0.1"]\n',                                             1,  "hosts[0]: must be a host"],
    ["host with userinfo",                "hosts: [me@api.github.com]\n",                                     1,  "hosts[0]: must be a host"],
    ["host with trailing dot",            "hosts: [api.github.com.]\n",                                       1,  "hosts[0]: must be a host"],
    ["no hosts",                          "rules: []\n",                                                      1,  "hosts: is required"],
    ["empty hosts",                       "hosts: []\n",                                                      1,  "hosts: must not be empty"],
    ["bad approver id",                   RULE("    action: approve\n    approvers: [admin]\n"),              5,  'rules[0].approvers[0]: must be an approver like "telegram:12345" or "role:admin", got "admin"'],
    ["approver with empty role",          RULE("    action: approve\n    approvers: ['role:']\n"),            5,  "rules[0].approvers[0]: must be an approver"],
    ["approvals zero",                    RULE("    action: approve\n    approvals: 0\n"),                    5,  "rules[0].approvals: must be at least 1"],
    ["approvals fractional",              RULE("    action: approve\n    approvals: 1.5\n"),                  5,  "rules[0].approvals: must be a whole number, got 1.5"],
    ["approval settings on a deny rule",  RULE("    action: deny\n    grant: 15m\n"),                         5,  "rules[0].grant: only applies to rules with action: approve"],
    ["bad method",                        RULE("    methods: [GE T]\n    action: allow\n"),                   4,  'rules[0].methods[0]: must be an HTTP method like GET or POST, got "GE T"'],
    ["relative path glob",                RULE("    paths: [repos/*]\n    action: allow\n"),                  4,  'rules[0].paths[0]: must be a path like "/v1/items/*"'],
    ["partial wildcard glob",             RULE("    paths: ['/foo*']\n    action: allow\n"),                  4,  "rules[0].paths[0]: must be a path"],
    ["traversal in a glob",               RULE("    paths: ['/a/../b']\n    action: allow\n"),                4,  "rules[0].paths[0]: must be a path"],
    ["empty body_contains needle",        RULE("    body_contains: ['']\n    action: deny\n"),                4,  "rules[0].body_contains[0]: must not be empty"],
    ["bad rate",                          "hosts: [a.test]\nrate_limit: 120/minute\n",                        2,  'rate_limit: must be a rate like 10/s, 120/min or 1000/h, got "120/minute"'],
    ["secrets as a list",                 "hosts: [a.test]\nsecrets: [TOKEN]\n",                              2,  "secrets: must be a mapping of secret names"],
    ["secret options typo",               "hosts: [a.test]\nsecrets:\n  TOKEN: { bdy: true }\n",              3,  'secrets.TOKEN.bdy: unknown key "bdy" (did you mean "body"?)'],
    ["secret body not boolean",           "hosts: [a.test]\nsecrets:\n  TOKEN: { body: yes }\n",              3,  'secrets.TOKEN.body: must be true or false, got "yes"'],
    ["secret name not an env var",        "hosts: [a.test]\nsecrets:\n  my-token: {}\n",                      3,  "secrets.my-token: secret names are letters"],
    ["allow_private as text",             "hosts: [a.test]\nallow_private: 'no'\n",                           2,  'allow_private: must be true or false, got "no"'],
    ["duplicate rule names",              RULE("    action: allow\n  - name: r\n    action: deny\n"),         5,  'rules[1].name: duplicate rule name "r"'],
    ["rule named default",                "hosts: [a.test]\nrules:\n  - { name: default, action: allow }\n",  3,  'rules[0].name: "default" is reserved'],
    ["top level is a list",               "- hosts: [a.test]\n",                                              1,  "must be a mapping with keys like hosts: and rules:"],
    ["YAML syntax error",                 "hosts: [a.test\nrules: []\n",                                      2,  "Flow sequence"],
    ["duplicate YAML key",                "hosts: [a.test]\nhosts: [b.test]\n",                               2,  "Map keys must be unique"],
    ["tab indentation",                   "hosts:\n\t- a.test\n",                                             2,  "Tabs are not allowed"],
  ] as const)("%s", (_why, text, line, fragment) => {
    const issues = issuesOf(text);
    expect(issues.map((i) => i.message).join("\n")).toContain(fragment);
    const issue = issues.find((i) => i.message.includes(fragment));
    expect(issue?.line).toBe(line);
    expect(formatIssues(issues)).toContain(`github.yaml:${line}: ${fragment}`);
  });

  it("reports an empty file", () => {
    expect(issuesOf("# nothing here\n")).toEqual([{ file: "github.yaml", message: "file is empty" }]);
    expect(issuesOf("")).toEqual([{ file: "github.yaml", message: "file is empty" }]);
  });

  it("reports every problem of every file, not just the first", () => {
    const result = compilePolicies([
      { file: "a.yaml", text: "hosts: [bad host]\nrules:\n  - { metods: [GET], action: nope }\n" },
      { file: "b.yaml", text: "hosts: [b.test]\ndefault: maybe\n" },
    ]);
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : formatIssues(result.issues)).toBe(
      [
        'a.yaml:1: hosts[0]: must be a host like "api.example.com" or "*.example.com", got "bad host"',
        'a.yaml:3: rules[0].action: must be allow, approve or deny, got "nope"',
        'a.yaml:3: rules[0].metods: unknown key "metods" (did you mean "methods"?)',
        'b.yaml:2: default: must be allow, approve or deny, got "maybe"',
      ].join("\n"),
    );
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["explicit duplicate names",  "github.yaml",     "name: github\nhosts: [a.test]\n",  "gh.yaml",        "name: github\nhosts: [b.test]\n",    'github.yaml:1: name: duplicate policy name "github" (also gh.yaml)'],
    ["name from file collides",   "github.yaml",     "hosts: [a.test]\n",                "other.yaml",     "hosts: [b.test]\n\nname: github\n",  'other.yaml:3: name: duplicate policy name "github" (also github.yaml)'],
    ["two defaults files",        "_defaults.yaml",  "unknown_hosts: deny\n",            "_defaults.yml",  "unknown_hosts: approve\n",           "_defaults.yml:1: defaults are already set by _defaults.yaml"],
    ["bad defaults value",        "_defaults.yaml",  "unknown_hosts: allow\n",           "a.yaml",         "hosts: [a.test]\n",                  '_defaults.yaml:1: unknown_hosts: must be deny or approve, got "allow"'],
    ["bad default approver",      "_defaults.yaml",  "approvers: [Telegram:1]\n",        "a.yaml",         "hosts: [a.test]\n",                  "_defaults.yaml:1: approvers[0]: must be an approver"],
    ["reserved file name",        "_extra.yaml",     "hosts: [a.test]\n",                "a.yaml",         "hosts: [b.test]\n",                  '_extra.yaml:1: file names starting with "_" are reserved'],
    ["not a YAML file",           "README.md",       "# hi\n",                           "a.yaml",         "hosts: [b.test]\n",                  "README.md: not a policy file"],
    ["undefined alias",           "a.yaml",          "hosts: *nope\n",                   "b.yaml",         "hosts: [b.test]\n",                  "a.yaml"],
  ])("rejects %s", (_why, f1, t1, f2, t2, expected) => {
    const result = compilePolicies([
      { file: f1, text: t1 },
      { file: f2, text: t2 },
    ]);
    expect(result.ok ? "" : formatIssues(result.issues)).toContain(expected);
  });
});

describe("compilePolicies() builds a PolicySet", () => {
  it("fills every default and normalises fields", () => {
    const set = setOf([
      "GitHub.yml",
      "hosts: [API.GitHub.com, '*.Example.COM']\nrules:\n  - { methods: [get, Post], body_contains: [Wire], action: approve }\n",
    ]);
    expect(set.defaults).toEqual({
      unknownHosts: "deny",
      approvalTimeoutMs: 900_000,
      approvers: ["role:owner", "role:admin"],
      maxPending: 20,
      maxHeldBytes: 64 * 1024 * 1024,
    });
    const [policy] = set.policies;
    expect(policy).toMatchObject({
      name: "GitHub",
      file: "GitHub.yml",
      hosts: ["api.github.com", "*.example.com"],
      agents: ["*"],
      allowPrivate: false,
      secrets: {},
      default: "deny",
      needsBody: true,
    });
    expect(policy?.rules[0]).toMatchObject({ name: "rule-1", approvals: 1, bodyContains: ["wire"] });
    expect([...(policy?.rules[0]?.methods ?? [])]).toEqual(["GET", "POST"]);
  });

  it("reads secrets, rate limits and defaults", () => {
    const set = setOf(
      [
        "_defaults.yaml",
        "unknown_hosts: approve\napproval_timeout: 2h\napprovers: ['slack:U1', 'role:ops']\n",
      ],
      [
        "a.yaml",
        "name: alpha\nhosts: [a.test]\nsecrets: { A: {}, B: { body: true } }\nrate_limit: 10/s\nallow_private: true\n",
      ],
    );
    expect(set.defaults).toEqual({
      unknownHosts: "approve",
      approvalTimeoutMs: 7_200_000,
      approvers: ["slack:U1", "role:ops"],
      maxPending: 20,
      maxHeldBytes: 64 * 1024 * 1024,
    });
    expect(set.policies[0]).toMatchObject({
      name: "alpha",
      secrets: { A: { body: false }, B: { body: true } },
      rateLimit: { count: 10, perMs: 1000 },
      allowPrivate: true,
      needsBody: false,
    });
  });

  it("sorts policies by file name", () => {
    const set = setOf(["b.yaml", "hosts: [b.test]\n"], ["a.yaml", "hosts: [a.test]\n"]);
    expect(set.policies.map((p) => p.file)).toEqual(["a.yaml", "b.yaml"]);
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["github.yaml",      true],
    ["dir/github.yml",   true],
    ["github.yaml.bak",  false],
    ["README.md",        false],
  ] as const)("isPolicyFileName(%s) is %s", (file, expected) => {
    expect(isPolicyFileName(file)).toBe(expected);
  });
});

describe("policies/presets", () => {
  const dir = fileURLToPath(new URL("./presets/", import.meta.url));
  const files = readdirSync(dir)
    .filter(isPolicyFileName)
    .map((file) => ({ file, text: readFileSync(`${dir}${file}`, "utf8") }));

  it("holds the documented presets", () => {
    expect(files.map((f) => f.file).sort()).toEqual([
      "_defaults.yaml",
      "anthropic.yaml",
      "demo.yaml",
      "github.yaml",
      "gmail.yaml",
      "openai.yaml",
      "slack.yaml",
      "stripe.yaml",
    ]);
  });

  it.each(files.map((f) => [f.file, f] as const))("%s compiles", (_name, file) => {
    const result = compilePolicies([file]);
    expect(result.ok ? "" : formatIssues(result.issues)).toBe("");
  });

  it("all compile together", () => {
    const result = compilePolicies(files);
    expect(result.ok ? result.set.policies.length : formatIssues(result.issues)).toBe(files.length - 1);
  });
});

describe("compilePolicies(): §3.1 keys", () => {
  it("reads ports, secret places, graphql rules and the new defaults", () => {
    const set = setOf(
      ["_defaults.yaml", "max_pending: 5\nmax_held_bytes: 2MiB\n"],
      [
        "gh.yaml",
        "hosts: [gh.test]\nports: [443]\nsecrets:\n  T: { headers: [Authorization, x-api-key], query: [key] }\nrules:\n  - { name: m, graphql: [mutation], action: deny }\n",
      ],
    );
    expect(set.defaults).toMatchObject({ maxPending: 5, maxHeldBytes: 2 * 1024 * 1024 });
    const [policy] = set.policies;
    expect(policy).toMatchObject({
      ports: [443],
      secrets: { T: { body: false, headers: ["authorization", "x-api-key"], query: ["key"] } },
      needsBody: true,
    });
    expect([...(policy?.rules[0]?.graphql ?? [])]).toEqual(["mutation"]);
  });

  it("defaults: ports 80 and 443; sizes in bytes or units", () => {
    // Not listed stays absent: evaluate reads it as 80 and 443 (except for --resolve-pinned hosts).
    expect(setOf(["a.yaml", "hosts: [a.test]\n"]).policies[0]?.ports).toBeUndefined();
    expect(setOf(["_defaults.yaml", "max_held_bytes: 1048576\n"]).defaults.maxHeldBytes).toBe(1048576);
    expect(setOf(["_defaults.yaml", "max_held_bytes: 512KB\n"]).defaults.maxHeldBytes).toBe(512_000);
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    // why                          file              text                                                             ln  message fragment
    ["port out of range",           "a.yaml",         "hosts: [a.test]\nports: [443, 70000]\n",                        2,  "ports[1]: must be a port (1-65535)"],
    ["port as text",                "a.yaml",         "hosts: [a.test]\nports: ['443']\n",                             2,  "ports[0]: must be a port number"],
    ["empty ports",                 "a.yaml",         "hosts: [a.test]\nports: []\n",                                  2,  "ports: must not be empty"],
    ["bad header name",             "a.yaml",         "hosts: [a.test]\nsecrets:\n  T: { headers: ['x api key'] }\n",  3,  "secrets.T.headers[0]: must be a header name"],
    ["unknown secret key",          "a.yaml",         "hosts: [a.test]\nsecrets:\n  T: { header: [authorization] }\n", 3, 'secrets.T.header: unknown key "header" (did you mean "headers"?)'],
    ["bad graphql type",            "a.yaml",         "hosts: [a.test]\nrules:\n  - graphql: [mutations]\n    action: deny\n", 3, "rules[0].graphql[0]: must be query, mutation or subscription"],
    ["bad max_pending",             "_defaults.yaml", "max_pending: 0\n",                                              1,  "max_pending: must be at least 1"],
    ["bad max_held_bytes",          "_defaults.yaml", "max_held_bytes: lots\n",                                        1,  'max_held_bytes: must be a size like 64MiB, got "lots"'],
  ] as const)("rejects %s with a line", (_why, file, text, line, fragment) => {
    const issues = issuesOf(text, file);
    expect(formatIssues(issues)).toContain(`${file}:${line}: ${fragment}`);
  });
});
