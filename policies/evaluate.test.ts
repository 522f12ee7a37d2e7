import { describe, expect, it } from "vitest";
import { canonicalBody } from "./canonical-body.js";
import { evaluate, findPolicy, portAllowed } from "./evaluate.js";
import { compilePolicies, type PolicySource } from "./load.js";
import type { Decision, EgressRequest, PolicySet } from "./types.js";

function compile(files: PolicySource[]): PolicySet {
  const result = compilePolicies(files);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.set;
}

const GITHUB = `
hosts: [api.github.com, "*.githubusercontent.com"]
secrets: { GITHUB_TOKEN: {} }
rules:
  - { name: no-deletes, methods: [DELETE], action: deny }
  - { name: read, methods: [GET, HEAD], action: allow }
  - name: merge
    methods: [PUT]
    paths: ["/repos/*/*/pulls/*/merge"]
    action: approve
    approvals: 2
    approvers: ["role:admin", "telegram:12345"]
    timeout: 30m
    grant: 15m
  - { name: wires, body_contains: ["Wire-Transfer"], action: deny }
  - { name: files, methods: [POST], paths: ["/repos/*/*/files/**"], action: allow }
default: approve
`;

const SET = compile([
  { file: "_defaults.yaml", text: "approval_timeout: 10m\napprovers: ['slack:UOWNER']\n" },
  { file: "github.yaml", text: GITHUB },
  { file: "wild.yaml", text: 'hosts: ["*.example.com"]\ndefault: allow\n' },
  { file: "exact.yaml", text: "hosts: [api.example.com]\ndefault: deny\n" },
  { file: "deeper.yaml", text: 'hosts: ["*.b.example.com"]\ndefault: approve\n' },
  { file: "internal.yaml", text: "hosts: [internal.test]\nagents: [builder]\ndefault: allow\n" },
  { file: "b-second.yaml", text: "hosts: [tie.test]\ndefault: deny\n" },
  { file: "a-first.yaml", text: "hosts: [tie.test]\ndefault: allow\n" },
  { file: "quiet.yaml", text: "hosts: [quiet.test]\n" },
  {
    file: "tags.yaml",
    text: "hosts: [tags.test]\nrules: [{ name: tagged, body_contains: [release], action: allow }]\ndefault: approve\n",
  },
  { file: "ip.yaml", text: "hosts: [127.0.0.1]\ndefault: allow\n" },
]);

const BASE: EgressRequest = { agent: "coder", method: "GET", host: "api.github.com", path: "/" };
const MERGE = "/repos/a/b/pulls/1/merge";

describe("evaluate()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, Partial<EgressRequest>, Partial<Decision>]>([
    // why                                                request                                                       expected
    ["exact host, read rule",                             {},                                                           { verdict: "allow", policy: "github", rule: "read" }],
    ["host case folds",                                   { host: "API.GitHub.COM" },                                   { verdict: "allow", rule: "read" }],
    ["one trailing dot folds (same DNS name)",            { host: "api.github.com." },                                  { verdict: "allow" }],
    ["two trailing dots are garbage",                     { host: "api.github.com.." },                                 { verdict: "deny", reason: "bad_host" }],
    ["suffix trick is not a subdomain",                   { host: "api.github.com.evil.test" },                         { verdict: "deny", reason: "unknown_host" }],
    ["prefix trick is not a subdomain",                   { host: "evilapi.github.com" },                               { verdict: "deny", reason: "unknown_host" }],
    ["userinfo smuggling",                                { host: "api.github.com@evil.test" },                         { verdict: "deny", code: "host_not_allowed", reason: "bad_host" }],
    ["port smuggling",                                    { host: "api.github.com:443" },                               { verdict: "deny", reason: "bad_host" }],
    ["empty label",                                       { host: "api..github.com" },                                  { verdict: "deny", reason: "bad_host" }],
    ["Kelvin sign folds to k only after lowercasing",     { host: "api.github.\u212Aom" },                              { verdict: "deny", reason: "bad_host" }],
    ["percent-encoded host",                              { host: "api.github%2ecom" },                                 { verdict: "deny", reason: "bad_host" }],
    ["IPv6 literal is not supported",                     { host: "[::1]" },                                            { verdict: "deny", reason: "bad_host" }],
    ["hex IPv4 form resolvers accept",                    { host: "0x7f000001" },                                       { verdict: "deny", reason: "bad_host" }],
    ["short IPv4 form resolvers accept",                  { host: "127.1" },                                            { verdict: "deny", reason: "bad_host" }],
    ["IPv4 literal named exactly by a policy",            { host: "127.0.0.1" },                                        { verdict: "allow", policy: "ip" }],
    ["wildcard matches one level",                        { host: "raw.githubusercontent.com" },                        { verdict: "allow", policy: "github" }],
    ["wildcard matches deeper levels",                    { host: "a.b.githubusercontent.com" },                        { verdict: "allow", policy: "github" }],
    ["wildcard does not match its apex",                  { host: "githubusercontent.com" },                            { verdict: "deny", reason: "unknown_host" }],
    ["wildcard suffix needs a dot boundary",              { host: "badgithubusercontent.com" },                         { verdict: "deny", reason: "unknown_host" }],
    ["exact pattern beats wildcard",                      { host: "api.example.com" },                                  { verdict: "deny", policy: "exact", reason: "default_deny" }],
    ["longer wildcard beats shorter",                     { host: "x.b.example.com" },                                  { verdict: "approve", policy: "deeper" }],
    ["shorter wildcard still applies elsewhere",          { host: "x.c.example.com" },                                  { verdict: "allow", policy: "wild" }],
    ["tie goes to the first file name",                   { host: "tie.test" },                                         { verdict: "allow", policy: "a-first" }],
    ["agent not listed falls through to unknown host",    { host: "internal.test" },                                    { verdict: "deny", reason: "unknown_host" }],
    ["listed agent gets the policy",                      { host: "internal.test", agent: "builder" },                  { verdict: "allow", policy: "internal" }],
    ["method case folds to the deny rule",                { method: "delete" },                                         { verdict: "deny", rule: "no-deletes" }],
    ["long-s uppercases to S only after validation",      { method: "po\u017Ft" },                                      { verdict: "deny", reason: "bad_method" }],
    ["method with a space",                               { method: "GET /x" },                                         { verdict: "deny", code: "policy_denied", reason: "bad_method" }],
    ["empty method",                                      { method: "" },                                               { verdict: "deny", reason: "bad_method" }],
    ["approve rule carries its settings",                 { method: "PUT", path: MERGE },                               { verdict: "approve", rule: "merge", approvals: 2, approvers: ["role:admin", "telegram:12345"], timeoutMs: 1_800_000, grantMs: 900_000}],
    ["percent-encoded letter cannot dodge the glob",      { method: "PUT", path: "/repos/a/b/pulls/1/m%65rge" },        { verdict: "approve", rule: "merge" }],
    ["case change cannot dodge the glob",                 { method: "PUT", path: "/REPOS/a/b/pulls/1/MERGE" },          { verdict: "approve", rule: "merge" }],
    ["trailing slash is the same path",                   { method: "PUT", path: `${MERGE}/` },                         { verdict: "approve", rule: "merge" }],
    ["* is exactly one segment",                          { method: "PUT", path: "/repos/a/b/pulls/1/2/merge" },        { verdict: "approve", rule: "default" }],
    ["* never matches a missing segment",                 { method: "PUT", path: "/repos/a/pulls/1/merge" },            { verdict: "approve", rule: "default" }],
    ["** matches zero segments",                          { method: "POST", path: "/repos/a/b/files" },                 { verdict: "allow", rule: "files" }],
    ["** matches many segments",                          { method: "POST", path: "/repos/a/b/files/x/y/z" },           { verdict: "allow", rule: "files" }],
    ["first match wins over later rules",                 { method: "DELETE", path: MERGE },                            { verdict: "deny", rule: "no-deletes" }],
    ["earlier allow wins over a body rule",               { body: "a wire-transfer" },                                  { verdict: "allow", rule: "read" }],
    ["body_contains is case-insensitive",                 { method: "POST", path: "/x", body: "WIRE-TRANSFER now" },    { verdict: "deny", reason: "denied_by_rule", rule: "wires" }],
    ["body without the needle falls to default",          { method: "POST", path: "/x", body: "hello" },                { verdict: "approve", rule: "default", approvers: ["slack:UOWNER"], timeoutMs: 600_000, approvals: 1 }],
    ["no body: nothing can contain the needle",           { method: "POST", path: "/x" },                               { verdict: "approve", rule: "default" }],
    ["unreadable body matches a deny body rule",          { method: "POST", path: "/x", bodyUnreadable: true },         { verdict: "deny", rule: "wires" }],
    ["unreadable body never matches an allow body rule",  { host: "tags.test", method: "POST", bodyUnreadable: true },  { verdict: "approve", rule: "default" }],
    ["readable body matches an allow body rule",          { host: "tags.test", method: "POST", body: "RELEASE v1" },    { verdict: "allow", rule: "tagged" }],
    ["path traversal with ..",                            { path: "/repos/a/../b" },                                    { verdict: "deny", code: "policy_denied", reason: "ambiguous_path", policy: "github" }],
    ["dot segment",                                       { path: "/repos/./a" },                                       { verdict: "deny", reason: "ambiguous_path" }],
    ["encoded dot-dot, mixed case",                       { path: "/repos/%2e%2E/x" },                                  { verdict: "deny", reason: "ambiguous_path" }],
    ["half-encoded dot-dot",                              { path: "/repos/.%2e/x" },                                    { verdict: "deny", reason: "ambiguous_path" }],
    ["Tomcat ..;param traversal",                         { path: "/repos/..;x/y" },                                    { verdict: "deny", reason: "ambiguous_path" }],
    ["raw ; path parameter",                              { method: "PUT", path: `${MERGE};x` },                        { verdict: "deny", reason: "ambiguous_path" }],
    ["encoded slash",                                     { path: "/repos/a%2Fb" },                                     { verdict: "deny", reason: "ambiguous_path" }],
    ["encoded backslash",                                 { path: "/repos/a%5cb" },                                     { verdict: "deny", reason: "ambiguous_path" }],
    ["raw backslash",                                     { path: "/repos\\..\\x" },                                    { verdict: "deny", reason: "ambiguous_path" }],
    ["double slash",                                      { path: "/repos//a" },                                        { verdict: "deny", reason: "ambiguous_path" }],
    ["encoded NUL",                                       { path: "/repos/a%00b" },                                     { verdict: "deny", reason: "ambiguous_path" }],
    ["raw control character",                             { path: "/repos/a\tb" },                                      { verdict: "deny", reason: "ambiguous_path" }],
    ["truncated percent-escape",                          { path: "/repos/a%2" },                                       { verdict: "deny", reason: "ambiguous_path" }],
    ["non-hex percent-escape",                            { path: "/repos/%zz" },                                       { verdict: "deny", reason: "ambiguous_path" }],
    ["overlong UTF-8 dot",                                { path: "/repos/%c0%ae%c0%ae/x" },                            { verdict: "deny", reason: "ambiguous_path" }],
    ["double-encoded dot-dot",                            { path: "/repos/%252e%252e/x" },                              { verdict: "deny", reason: "ambiguous_path" }],
    ["query left in the path",                            { path: "/repos/a?x=1" },                                     { verdict: "deny", reason: "ambiguous_path" }],
    ["fragment left in the path",                         { path: "/repos/a#x" },                                       { verdict: "deny", reason: "ambiguous_path" }],
    ["not origin-form",                                   { path: "repos/a" },                                          { verdict: "deny", reason: "ambiguous_path" }],
    ["raw non-ASCII",                                     { path: "/répos" },                                           { verdict: "deny", reason: "ambiguous_path" }],
    ["encoded UTF-8 is fine",                             { path: "/r%C3%A9pos" },                                      { verdict: "allow", rule: "read" }],
    ["policy default allow",                              { host: "z.example.com", method: "POST" },                    { verdict: "allow", rule: "default" }],
    ["policy default approve uses _defaults",             { host: "x.b.example.com" },                                  { verdict: "approve", rule: "default", approvals: 1, approvers: ["slack:UOWNER"], timeoutMs: 600_000 }],
    ["omitted default fails closed",                      { host: "quiet.test" },                                       { verdict: "deny", reason: "default_deny", rule: "default", policy: "quiet" }],
    ["unknown host denied by default",                    { host: "unknown.test" },                                     { verdict: "deny", code: "host_not_allowed", reason: "unknown_host" }],
  ])("%s", (_why, overrides, expected) => {
    expect(evaluate(SET, { ...BASE, ...overrides })).toMatchObject(expected);
  });

  it("omits grantMs when the rule offers no grant", () => {
    const set = compile([{ file: "s.yaml", text: "hosts: [s.test]\nrules: [{ action: approve }]\n" }]);
    expect(evaluate(set, { ...BASE, host: "s.test" })).toEqual({
      verdict: "approve",
      policy: "s",
      rule: "rule-1",
      approvals: 1,
      approvers: ["role:owner", "role:admin"],
      timeoutMs: 900_000,
      covers: "any request to s.test",
    });
  });
});

describe("evaluate() with unknown_hosts: approve", () => {
  const set = compile([
    {
      file: "_defaults.yml",
      text: "unknown_hosts: approve\napproval_timeout: 5m\napprovers: ['slack:U1']\n",
    },
    { file: "github.yaml", text: GITHUB },
  ]);
  // biome-ignore format: a table reads best one row per line
  it.each<[string, Partial<EgressRequest>, Partial<Decision>]>([
    ["unknown host asks a human",               { host: "new.test" },                   { verdict: "approve", policy: "_defaults", rule: "unknown_hosts", approvals: 1, approvers: ["slack:U1"], timeoutMs: 300_000}],
    ["ambiguous path is still refused",         { host: "new.test", path: "/a/../b" },  { verdict: "deny", reason: "ambiguous_path", policy: "_defaults" }],
    ["bad host is not unknown, it is refused",  { host: "new.test:80" },                { verdict: "deny", reason: "bad_host" }],
    ["known hosts keep their policy",           { method: "DELETE" },                   { verdict: "deny", rule: "no-deletes" }],
  ])("%s", (_why, overrides, expected) => {
    expect(evaluate(set, { ...BASE, ...overrides })).toMatchObject(expected);
  });
});

describe("findPolicy()", () => {
  it("returns undefined for a host no policy names", () => {
    expect(findPolicy(SET, "coder", "nowhere.test")).toBeUndefined();
  });
  it("skips policies that do not list the agent", () => {
    expect(findPolicy(SET, "coder", "internal.test")).toBeUndefined();
    expect(findPolicy(SET, "builder", "internal.test")?.name).toBe("internal");
  });
});

describe("evaluate(): §3.1 additions", () => {
  const set = compile([
    { file: "_defaults.yaml", text: "unknown_hosts: approve\n" },
    {
      file: "gh.yaml",
      text: `hosts: [gh.test]
ports: [443, 8443]
rules:
  - { name: no-wires, body_contains: ["wire-transfer"], action: deny }
  - { name: mutation, methods: [POST], paths: ["/graphql"], graphql: [mutation], action: approve, grant: 15m }
  - { name: read-graphql, methods: [POST], paths: ["/graphql"], graphql: [query], action: allow }
  - { name: tagged, methods: [PUT], body_contains: ["release"], action: allow }
  - { name: merge, methods: [PUT, POST], paths: ["/repos/*/*/pulls/*/merge"], action: approve }
default: approve
`,
    },
    { file: "plain.yaml", text: "hosts: [plain.test]\ndefault: allow\n" },
  ]);
  const gql = (query: unknown, type = "application/json"): Partial<EgressRequest> => ({
    method: "POST",
    path: "/graphql",
    canonical: canonicalBody(new TextEncoder().encode(JSON.stringify(query)), type, undefined),
  });
  const REQ: EgressRequest = { agent: "a", method: "GET", host: "gh.test", path: "/", port: 443 };

  // biome-ignore format: a table reads best one row per line
  it.each<[string, Partial<EgressRequest>, Partial<Decision>]>([
    ["listed port",                                 { port: 8443 },                                          { verdict: "approve", rule: "default" }],
    ["unlisted port",                               { port: 22 },                                            { verdict: "deny", code: "host_not_allowed", reason: "bad_port" }],
    ["default ports are 80 and 443",                { host: "plain.test", port: 80 },                        { verdict: "allow" }],
    ["default ports refuse 8080",                   { host: "plain.test", port: 8080 },                      { verdict: "deny", code: "host_not_allowed", reason: "bad_port" }],
    ["unknown host approved only on 80/443",        { host: "new.test", port: 6379 },                        { verdict: "deny", code: "host_not_allowed", reason: "bad_port" }],
    ["unknown host on 443 asks",                    { host: "new.test", port: 443 },                         { verdict: "approve", rule: "unknown_hosts" }],
    ["no port given: not checked",                  { host: "plain.test", port: undefined },                 { verdict: "allow" }],
    ["pinned host: default ports not checked",      { host: "plain.test", port: 8080, portPinned: true },    { verdict: "allow" }],
    ["pinned host: listed ports still checked",     { port: 22, portPinned: true },                          { verdict: "deny", code: "host_not_allowed", reason: "bad_port" }],
    ["pinned unknown host: default not checked",    { host: "new.test", port: 6379, portPinned: true },      { verdict: "approve", rule: "unknown_hosts" }],
    ["GraphQL query is allowed",                    gql({ query: "{ viewer { login } }" }),                  { verdict: "allow", rule: "read-graphql" }],
    ["GraphQL mutation is held",                    gql({ query: "mutation { a }" }),                        { verdict: "approve", rule: "mutation" }],
    ["mutation picked by operationName",            gql({ query: "query A { a } mutation B { b }", operationName: "B" }), { verdict: "approve", rule: "mutation" }],
    ["batched mutation",                            gql([{ query: "{ a }" }, { query: "mutation { b }" }]),  { verdict: "approve", rule: "mutation" }],
    ["persisted query: unreadable, held",           gql({ extensions: { persistedQuery: { sha256Hash: "x" } } }), { verdict: "approve", rule: "mutation" }],
    ["subscription: not allowed, falls to default", gql({ query: "subscription { s }" }),                    { verdict: "approve", rule: "default" }],
    ["escaped needle in JSON is denied",            { method: "POST", canonical: canonicalBody(new TextEncoder().encode('{"a":"wire\\u002dtransfer"}'), "application/json", undefined) }, { verdict: "deny", rule: "no-wires" }],
    ["percent-encoded needle in a form is denied",  { method: "POST", canonical: canonicalBody(new TextEncoder().encode("a=wire%2dtransfer"), "application/x-www-form-urlencoded", undefined) }, { verdict: "deny", rule: "no-wires" }],
    ["look-alike needle is denied",                 { method: "POST", canonical: canonicalBody(new TextEncoder().encode("ｗire-transfer"), "text/plain", undefined) }, { verdict: "deny", rule: "no-wires" }],
    ["unreadable body matches deny rules",          { method: "POST", canonical: { kind: "unreadable", why: "gzip" } }, { verdict: "deny", rule: "no-wires" }],
    ["allow needle needs the literal text",         { method: "PUT", canonical: canonicalBody(new TextEncoder().encode("ｒelease"), "text/plain", undefined) }, { verdict: "approve", rule: "default" }],
    ["allow needle in literal text",                { method: "PUT", canonical: canonicalBody(new TextEncoder().encode("Release 1"), "text/plain", undefined) }, { verdict: "allow", rule: "tagged" }],
  ])("%s", (_why, req, expected) => {
    expect(evaluate(set, { ...REQ, ...req })).toMatchObject(expected);
  });

  it("portAllowed() answers for CONNECT before any request", () => {
    expect(portAllowed(set, "a", "GH.test", 8443)).toBe(true);
    expect(portAllowed(set, "a", "gh.test", 80)).toBe(false);
    expect(portAllowed(set, "a", "plain.test", 443)).toBe(true);
    expect(portAllowed(set, "a", "new.test", 22)).toBe(false);
    expect(portAllowed(set, "a", "bad host", 443)).toBe(false);
  });

  it("approve decisions say what a grant covers", () => {
    expect(evaluate(set, { ...REQ, ...gql({ query: "mutation { a }" }) })).toMatchObject({
      covers: "POST /graphql (GraphQL mutation)",
    });
    expect(evaluate(set, { ...REQ, method: "PUT", path: "/repos/a/b/pulls/1/merge" })).toMatchObject({
      covers: "PUT, POST /repos/*/*/pulls/*/merge",
    });
    expect(evaluate(set, { ...REQ, method: "DELETE", path: "/x" })).toMatchObject({
      covers: "any other request to gh.test",
    });
    expect(evaluate(set, { ...REQ, host: "new.test" })).toMatchObject({
      covers: "any request to a host no policy names",
    });
  });
});
