import { describe, expect, it } from "vitest";
import { compilePolicies } from "./load.js";
import { type ReplayRow, replayAudit } from "./replay.js";
import type { PolicySet } from "./types.js";

function set(yaml: string): PolicySet {
  const r = compilePolicies([{ file: "api.yaml", text: yaml }]);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.set;
}

let seq = 0;
const row = (entry: Record<string, unknown>): ReplayRow => ({ seq: ++seq, ts: 1000 + seq, entry });
const req = (method: string, path: string, verdict: string, more: Record<string, unknown> = {}) =>
  row({ type: "request", agent: "a1", method, host: "api.test", port: 443, path, verdict, ...more });
const count = (r: ReturnType<typeof replayAudit>, from: string, to: string) =>
  r.transitions.find((t) => t.from === from && t.to === to)?.count;

describe("replayAudit()", () => {
  it("counts only request rows, and the old verdict the audit records", () => {
    const candidate = set("hosts: [api.test]\nrules: []\ndefault: deny\n");
    const r = replayAudit(
      [
        row({ type: "approval_requested", agent: "a1" }),
        req("GET", "/x", "allow", { policy: "api", rule: "read" }),
        req("POST", "/x", "approve", { policy: "api", rule: "w" }),
        req("POST", "/y", "deny", { code: "approval_expired", policy: "api", rule: "w" }),
        req("POST", "/z", "deny", { code: "too_many_pending", policy: "api", rule: "w" }),
        req("GET", "/d", "deny", { code: "policy_denied", policy: "api", rule: "default" }),
      ],
      candidate,
    );
    expect(r.total).toBe(5);
    expect(count(r, "allow", "deny")).toBe(1);
    expect(count(r, "approve", "deny")).toBe(3);
    expect(r.unchanged).toBe(1);
    expect(r.transitions).toHaveLength(6);
  });

  it("never guesses a decision the audit does not record", () => {
    const candidate = set("hosts: [api.test]\ndefault: allow\n");
    const r = replayAudit(
      [
        req("GET", "/x", "deny", { code: "rate_limited", policy: "api" }),
        req("GET", "/x", "deny", { code: "private_address", policy: "api", rule: "default" }),
        req("GET", "/x", "deny", { code: "secret_misplaced", policy: "api" }),
        row({ type: "request", agent: "a1", verdict: "deny", code: "bad_request", parser: "HPE_X" }),
        row({
          type: "request",
          agent: "a1",
          method: "CONNECT",
          host: "x.test",
          port: 22,
          verdict: "deny",
          code: "host_not_allowed",
        }),
        row({ type: "request", agent: "a1", method: "GET", host: "api.test", path: "/x", verdict: "maybe" }),
      ],
      candidate,
    );
    expect(r).toMatchObject({ total: 6, changed: 0, unchanged: 0 });
    expect(r.cannotReplay).toEqual({ count: 6, reasons: { no_decision: 5, tunnel: 1, body: 0 } });
  });

  it("applies the strictest verdict over the method sent and the overrides it named", () => {
    const candidate = set(
      "hosts: [api.test]\nrules:\n  - {name: w, methods: [POST], action: allow}\n  - {name: d, methods: [DELETE], action: deny}\n",
    );
    const r = replayAudit(
      [
        req("POST", "/x", "allow", {
          policy: "api",
          rule: "w",
          overrides: [{ via: "X-HTTP-Method header", method: "DELETE" }],
        }),
      ],
      candidate,
    );
    expect(count(r, "allow", "deny")).toBe(1);
    expect(r.transitions.find((t) => t.to === "deny" && t.from === "allow")?.examples[0]?.toRule).toBe(
      "api/d",
    );
  });

  it("counts a request as 'body' only when a body rule is reached before the deciding rule", () => {
    const candidate = set(
      [
        "hosts: [api.test]",
        "rules:",
        "  - {name: read, methods: [GET], action: allow}",
        "  - {name: wires, methods: [POST], paths: [/pay], body_contains: [wire], action: deny}",
        "  - {name: gql, methods: [POST], paths: [/graphql], graphql: [mutation], action: approve}",
        "  - {name: rest, methods: [POST], action: allow}",
        "default: deny",
      ].join("\n"),
    );
    const r = replayAudit(
      [
        req("GET", "/pay", "allow", { policy: "api", rule: "read" }), // read decides first
        req("POST", "/pay", "allow", { policy: "api", rule: "rest" }), // wires is reached: body
        req("POST", "/graphql", "allow", { policy: "api", rule: "rest" }), // gql is reached: body
        req("POST", "/other", "allow", { policy: "api", rule: "rest" }), // no body rule reached
        req("PUT", "/pay", "deny", { code: "policy_denied", policy: "api", rule: "default" }),
      ],
      candidate,
    );
    expect(r.cannotReplay.reasons.body).toBe(2);
    expect(r.unchanged).toBe(3);
  });

  it("checks ports as the gateway does, explicit ports also for --resolve-pinned hosts", () => {
    const open = set("hosts: [api.test]\ndefault: allow\n");
    const rows = [req("GET", "/", "allow", { port: 8443, policy: "api", rule: "default" })];
    expect(count(replayAudit(rows, open), "allow", "deny")).toBe(1);
    expect(replayAudit(rows, open, { pinned: (h) => h === "api.test" }).unchanged).toBe(1);
  });

  it("keeps the newest examples, cuts a long URL honestly, and counts rule-only changes", () => {
    const candidate = set(
      "hosts: [api.test]\nrules:\n  - {name: r2, methods: [GET], action: allow}\ndefault: deny\n",
    );
    const long = `/${"a".repeat(1500)}`;
    const rows = [
      req("GET", "/1", "deny", { code: "policy_denied", policy: "api", rule: "default" }),
      req("GET", "/2", "deny", { code: "policy_denied", policy: "api", rule: "default" }),
      req("GET", long, "deny", { code: "policy_denied", policy: "api", rule: "default" }),
      req("GET", "/3", "allow", { policy: "api", rule: "r1" }),
    ];
    const r = replayAudit(rows, candidate, { examples: 2 });
    const ex = r.transitions.find((t) => t.from === "deny" && t.to === "allow")?.examples ?? [];
    expect(ex.map((e) => e.url.slice(0, 21))).toEqual(["https://api.test/2", "https://api.test/aaaa"]);
    expect(ex[1]?.url).toMatch(/… \(517 more characters\)$/);
    expect(r.otherRule).toBe(1);
    expect(
      replayAudit(rows, candidate, { examples: 0 }).transitions.every((t) => t.examples.length === 0),
    ).toBe(true);
  });
});
