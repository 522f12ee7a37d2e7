import { describe, expect, it } from "vitest";
import type { ApprovalView } from "../gateway/index.js";
import { actionData, buildCard, formatDuration, parseCardAction } from "./cards.js";

const ID = "0b6f3c1e-9d2a-4c3b-8e7f-1a2b3c4d5e6f";
const NOW = Date.parse("2030-01-01T00:00:00Z");
const VIEW: ApprovalView = {
  id: ID,
  agent: "demo",
  method: "POST",
  url: "https://api.example.test/v1/things",
  host: "api.example.test",
  path: "/v1/things",
  policy: "example",
  rule: "write",
  bodyPreview: '{"token":"****"}',
  reason: "to create a thing",
  createdAt: new Date(NOW).toISOString(),
  expiresAt: new Date(NOW + 5 * 60_000).toISOString(),
  needed: 2,
  approvals: ["fake:1"],
  approvers: ["role:approver"],
  grantMs: 15 * 60_000,
  state: "pending",
};
const card = (v: Partial<ApprovalView>) => buildCard({ ...VIEW, ...v }, { now: () => NOW });

describe("buildCard()", () => {
  it("shows title, lines, the agent's words, progress and three buttons while pending", () => {
    const c = card({});
    expect(c.title).toBe("demo wants to POST api.example.test/v1/things");
    expect(c.lines).toEqual([
      { label: "Agent", value: "demo" },
      { label: "Request", value: "POST https://api.example.test/v1/things" },
      { label: "Policy", value: "example / write" },
      { label: "Expires in", value: "5 min" },
      { label: "Time-limited approval", value: "approves this request for 15 min" },
    ]);
    expect(c.body).toEqual({ text: '{"token":"****"}', hidden: 0 });
    expect(c.link).toBeNull();
    expect(c.agentSays).toBe("to create a thing");
    expect(c.status).toBe("Waiting for approval: 1 of 2");
    expect(c.buttons.map((b) => [b.label, b.data])).toEqual([
      ["Approve", `a:${ID}:approve`],
      ["Deny", `a:${ID}:deny`],
      ["Approve for 15 min", `a:${ID}:grant`],
    ]);
    for (const b of c.buttons) expect(Buffer.byteLength(b.data)).toBeLessThanOrEqual(64);
  });

  // biome-ignore format: a table reads best one row per line
  it.each([
    ["approved",  { state: "approved", approvals: ["fake:1", "fake:2"] }, "Approved by fake:1, fake:2"],
    ["used",      { state: "used", approvals: ["fake:1"] },               "Approved by fake:1"],
    ["denied",    { state: "denied", deniedBy: "fake:3" },                "Denied by fake:3"],
    ["expired",   { state: "expired" },                                   "Expired"],
    ["withdrawn", { state: "denied" },                                    "Withdrawn"],
  ] as const)("once %s, shows the outcome and no buttons", (_why, v, status) => {
    const c = card(v as Partial<ApprovalView>);
    expect(c.status).toBe(status);
    expect(c.buttons).toEqual([]);
  });

  it("offers no grant button when the rule has no grant window", () => {
    expect(card({ grantMs: null }).buttons.map((b) => b.label)).toEqual(["Approve", "Deny"]);
  });

  it("strips control and bidi characters the agent put in its path and reason", () => {
    const c = card({ path: "/a\u202e\u0007b", reason: "line1\nline2\u0000" });
    expect(c.title).toBe("demo wants to POST api.example.test/a  b");
    expect(c.agentSays).toBe("line1\nline2");
  });
});

describe("buildCard(): honest cards (DESIGN §3.1)", () => {
  const honest: Partial<ApprovalView> = {
    method: "POST",
    bodyPreview: '{\n  "title": "x",\n  "token": "****"\n}',
    bodyHidden: 1234,
    bodyBytes: 5000,
    contentType: "application/json",
    contentEncoding: "gzip",
    secrets: [
      { name: "GITHUB_TOKEN", where: "Authorization header" },
      { name: "API_KEY", where: "query parameter key" },
    ],
    overrides: [
      { via: "X-HTTP-Method-Override header", method: "DELETE" },
      { via: "_method query parameter", method: "PUT" },
    ],
    grantCovers: "PUT /repos/*/*/pulls/*/merge",
  };

  it("lists secrets and where, content type and encoding, every override; links the full request", () => {
    const c = buildCard({ ...VIEW, ...honest }, { now: () => NOW, webBase: "http://127.0.0.1:7420/" });
    const line = (label: string) => c.lines.filter((l) => l.label === label).map((l) => l.value);
    expect(line("Secrets carried")).toEqual([
      "GITHUB_TOKEN → Authorization header, API_KEY → query parameter key",
    ]);
    expect(line("Content")).toEqual(["application/json, gzip-encoded, 5000 bytes"]);
    expect(line("Method override")).toEqual([
      "X-HTTP-Method-Override: DELETE — checked as POST and DELETE",
      "_method query parameter = PUT — checked as POST and PUT",
    ]);
    expect(c.body).toEqual({ text: '{\n  "title": "x",\n  "token": "****"\n}', hidden: 1234 });
    expect(c.link).toBe(`http://127.0.0.1:7420/approvals/${ID}`);
  });

  it("the grant button says what it covers, with a short form; the card states the coverage", () => {
    const c = card(honest);
    const grant = c.buttons.find((b) => b.data.endsWith(":grant"));
    expect(grant).toMatchObject({
      label: "Approve all PUT /repos/*/*/pulls/*/merge for 15 min",
      shortLabel: "Approve similar for 15 min",
    });
    expect(c.lines).toContainEqual({
      label: "Time-limited approval",
      value: "approves all PUT /repos/*/*/pulls/*/merge for 15 min",
    });
    expect(card({ ...honest, state: "approved" }).lines.map((l) => l.label)).not.toContain(
      "Time-limited approval",
    );
  });

  it("says 'none' when no secret is carried; old rows without the facts show neither line", () => {
    expect(card({ secrets: [] }).lines).toContainEqual({ label: "Secrets carried", value: "none" });
    expect(card({}).lines.map((l) => l.label)).not.toContain("Secrets carried");
    expect(card({}).lines.map((l) => l.label)).not.toContain("Content");
  });

  it("cuts a huge URL, reason and body only with a count of what is not shown", () => {
    const path = `/${"p".repeat(9000)}`;
    const c = card({
      path,
      url: `https://api.example.test${path}`,
      reason: "r".repeat(5000),
      bodyPreview: "b".repeat(20_000),
      bodyHidden: 10,
    });
    expect(c.title).toBe("demo wants to POST api.example.test (path in the Request line)");
    const request = c.lines.find((l) => l.label === "Request");
    expect((request?.value.length ?? 0) + (request?.hidden ?? 0)).toBe(
      `POST https://api.example.test${path}`.length,
    );
    expect(request?.hidden).toBeGreaterThan(0);
    expect((c.agentSays?.length ?? 0) + (c.agentSaysHidden ?? 0)).toBe(5000);
    expect(c.body?.text.length).toBe(16_000);
    expect(c.body?.hidden).toBe(4000 + 10);
  });

  it("an empty preview of a hidden body still shows as a body of hidden characters", () => {
    expect(card({ bodyPreview: "", bodyHidden: 77 }).body).toEqual({ text: "", hidden: 77 });
    expect(card({ bodyPreview: "" }).body).toBeNull();
  });
});

describe("parseCardAction()", () => {
  // biome-ignore format: a table reads best one row per line
  it.each([
    // why                                 data                                   ok
    ["what we send",                       `a:${ID}:approve`,                      true],
    ["grant",                              `a:${ID}:grant`,                        true],
    ["unknown verb",                       `a:${ID}:approveall`,                   false],
    ["extra segment",                      `a:${ID}:deny:x`,                       false],
    ["wrong prefix",                       `b:${ID}:deny`,                         false],
    ["empty id",                           "a::deny",                              false],
    ["id with a colon",                    "a:x:y:deny",                           false],
    ["over 64 bytes",                      `a:${"f".repeat(60)}:deny`,             false],
    ["trailing newline",                   `a:${ID}:deny\n`,                       false],
    ["unicode lookalike",                  `a:${ID}:dеny`,                         false],
  ])("%s", (_why, data, ok) => {
    expect(parseCardAction(data) !== undefined).toBe(ok);
  });

  it("round-trips actionData()", () => {
    expect(parseCardAction(actionData(ID, "deny"))).toEqual({ approvalId: ID, action: "deny" });
  });

  it("actionData() refuses ids that would not fit", () => {
    expect(() => actionData("x".repeat(80), "approve")).toThrow();
  });
});

describe("formatDuration()", () => {
  it.each([
    [0, "0 s"],
    [-5000, "0 s"],
    [45_000, "45 s"],
    [15 * 60_000, "15 min"],
    [2 * 3600_000, "2 h"],
    [90 * 60_000, "1.5 h"],
    [86400_000, "1 d"],
  ])("%d ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
