/**
 * The operator console's HTTP edge (`/console`, `/console/api/*`) over real HTTP on 127.0.0.1 against
 * the real web channel and a recording ControlPort: who gets in (owner and admins; member → 403,
 * nobody → 401, both without data), CSRF and Origin on every POST, shape checks on every field and
 * path name, secret values that go in and never come out (not in a reply, not in a log, not echoed
 * from a malformed body), and the audit search (filters, newest first, paging) over many rows.
 */
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { ControlPort } from "../../bot/control-port.js";
import { searchAudit } from "../../bot/channels/web/console-data.js";
import { createWebChannel, type WebChannel } from "../../bot/channels/web/index.js";

const VALUE = "sk_live_never_shown_4f1e";
type Reply = { status: number; body: string };

function http(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
) {
  return new Promise<Reply>((resolve, reject) => {
    const req = request(new URL(path, base), { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function auditRows(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    ts: 1_700_000_000_000 + i,
    entry: {
      type: "request",
      agent: i % 2 ? "mail" : "billing",
      method: "GET",
      host: i % 3 ? "api.example.test" : "evil.test",
      path: `/r/${i + 1}`,
      verdict: i % 5 === 0 ? "deny" : "allow",
    },
  }));
}

async function setUp() {
  const logs: string[] = [];
  const secrets = new Map<string, string>([["GITHUB_TOKEN", "x"]]);
  const rows = auditRows(120);
  const control = {
    listApprovals: async () => [],
    listAgents: async () => [{ name: "mail", state: "running", provider: "demo" }],
    agentLogs: async (name: string) => {
      if (name !== "mail") throw new Error("no container /var/lib/docker/secret-path");
      return `${"x".repeat(70 * 1024)}END`;
    },
    listPolicies: () => [],
    readPolicy: async () => undefined,
    writePolicy: async () => ({ ok: true }),
    setSecret: async (name: string, value: string) => void secrets.set(name, value),
    listSecrets: async () => [...secrets.keys()],
    deleteSecret: async (name: string) => secrets.delete(name),
    listAudit: async (after: number, limit: number) => rows.filter((r) => r.seq > after).slice(0, limit),
  } as unknown as ControlPort;
  const users: Record<string, string> = { "tok-owner": "own1", "tok-admin": "adm1", "tok-member": "mem1" };
  const web: WebChannel = createWebChannel({
    host: "127.0.0.1",
    port: 0,
    verifyToken: async (t) => (users[t] ? { userId: users[t], name: t } : undefined),
    log: (event, fields) => void logs.push(JSON.stringify({ event, ...fields })),
    console: { mayUse: async (id) => id === "own1" || id === "adm1", control: () => control },
  });
  await web.listen();
  return { web, logs, secrets };
}

// Signs in through the claim route and reads the CSRF token from the chat page.
async function signIn(web: WebChannel, token: string): Promise<{ cookie: string; csrf: string }> {
  const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
    const req = request(new URL(`/claim/${token}`, web.url), (r) => {
      r.resume();
      resolve({ status: r.statusCode ?? 0, cookie: String(r.headers["set-cookie"]).split(";")[0]! });
    });
    req.on("error", reject);
    req.end();
  });
  expect(res.status).toBe(303);
  const page = await http(web.url, "GET", "/", { cookie: res.cookie });
  return { cookie: res.cookie, csrf: /name="warden-csrf" content="([^"]+)"/.exec(page.body)![1]! };
}

const opened: WebChannel[] = [];
afterEach(async () => {
  for (const w of opened.splice(0)) await w.stop();
});
async function world() {
  const t = await setUp();
  opened.push(t.web);
  const post = async (who: { cookie: string; csrf?: string }, path: string, body: unknown, more = {}) =>
    http(
      t.web.url,
      "POST",
      path,
      {
        cookie: who.cookie,
        "content-type": "application/json",
        ...(who.csrf ? { "x-warden-csrf": who.csrf } : {}),
        ...more,
      },
      JSON.stringify(body),
    );
  return { ...t, post };
}

describe("the operator console's HTTP edge", () => {
  it("asks nobody signed in to sign in and refuses members, without data", async () => {
    const t = await world();
    const out = await http(t.web.url, "GET", "/console");
    expect(out.status).toBe(401);
    expect(out.body).toContain("Sign in to use the console");
    expect((await http(t.web.url, "GET", "/console/api/secrets")).status).toBe(401);
    const member = await signIn(t.web, "tok-member");
    const page = await http(t.web.url, "GET", "/console", { cookie: member.cookie });
    expect(page.status).toBe(403);
    expect(page.body).not.toContain("GITHUB_TOKEN");
    for (const path of ["/console/api/secrets", "/console/api/audit", "/console/api/agents/mail/logs"]) {
      const r = await http(t.web.url, "GET", path, { cookie: member.cookie });
      expect([r.status, r.body]).toEqual([403, '{"error":"forbidden"}']);
    }
    const set = await t.post(member, "/console/api/secrets/set", { name: "X", value: VALUE });
    expect(set.status).toBe(403);
    expect(t.secrets.has("X")).toBe(false);
    // Another site naming itself in Host (DNS rebinding) gets nothing.
    const admin = await signIn(t.web, "tok-admin");
    const rebound = await http(t.web.url, "GET", "/console/api/secrets", {
      cookie: admin.cookie,
      host: "evil.test",
    });
    expect(rebound.status).toBe(421);
  });

  it("needs the CSRF token and a same-origin Origin for every change", async () => {
    const t = await world();
    const admin = await signIn(t.web, "tok-admin");
    const noCsrf = await t.post({ cookie: admin.cookie }, "/console/api/secrets/set", {
      name: "A",
      value: VALUE,
    });
    expect([noCsrf.status, noCsrf.body]).toEqual([403, '{"error":"csrf"}']);
    const wrong = await t.post(
      { cookie: admin.cookie, csrf: `${admin.csrf.slice(1)}A` },
      "/console/api/secrets/delete",
      {
        name: "GITHUB_TOKEN",
      },
    );
    expect(wrong.status).toBe(403);
    const foreign = await t.post(
      admin,
      "/console/api/secrets/set",
      { name: "A", value: VALUE },
      { origin: "http://evil.test" },
    );
    expect([foreign.status, foreign.body]).toEqual([403, '{"error":"bad_origin"}']);
    expect([...t.secrets.keys()]).toEqual(["GITHUB_TOKEN"]);
    const form = await http(
      t.web.url,
      "POST",
      "/console/api/secrets/set",
      {
        cookie: admin.cookie,
        "x-warden-csrf": admin.csrf,
        "content-type": "application/x-www-form-urlencoded",
      },
      `name=A&value=${VALUE}`,
    );
    expect(form.status).toBe(415);
    expect([...t.secrets.keys()]).toEqual(["GITHUB_TOKEN"]);
  });

  it("stores a secret value and never sends or logs it, not even from a malformed body", async () => {
    const t = await world();
    const owner = await signIn(t.web, "tok-owner");
    const set = await t.post(owner, "/console/api/secrets/set", { name: "STRIPE_KEY", value: VALUE });
    expect(set.status).toBe(200);
    expect(t.secrets.get("STRIPE_KEY")).toBe(VALUE);
    const bad = await t.post(owner, "/console/api/secrets/set", { name: "bad name", value: VALUE });
    const list = await http(t.web.url, "GET", "/console/api/secrets", { cookie: owner.cookie });
    expect(JSON.parse(list.body)).toEqual({ names: ["GITHUB_TOKEN", "STRIPE_KEY"] });
    expect(bad.status).toBe(400);
    for (const text of [set.body, bad.body, list.body, t.logs.join("\n")]) expect(text).not.toContain(VALUE);
    expect(t.logs.some((l) => l.includes("web.console_secret_set") && l.includes("STRIPE_KEY"))).toBe(true);
    const del = await t.post(owner, "/console/api/secrets/delete", { name: "STRIPE_KEY" });
    expect(del.status).toBe(200);
    expect((await t.post(owner, "/console/api/secrets/delete", { name: "STRIPE_KEY" })).status).toBe(404);
  });

  it("checks every name and filter: bad policy, agent and decision values are refused", async () => {
    const t = await world();
    const owner = await signIn(t.web, "tok-owner");
    const get = (path: string) => http(t.web.url, "GET", path, { cookie: owner.cookie });
    expect(
      (await t.post(owner, "/console/api/policies/save", { name: "../etc/x", yaml: "a: 1" })).status,
    ).toBe(400);
    expect(
      (await t.post(owner, "/console/api/policies/replay", { name: "p", yaml: "", window: "1y" })).status,
    ).toBe(400);
    expect((await get("/console/api/policies/..%2f..%2fetc")).status).toBe(404);
    expect((await get("/console/api/agents/..%2fx/logs")).status).toBe(404);
    expect((await get("/console/api/audit?decision=bogus")).status).toBe(400);
    // The runtime's own error (paths and all) is not passed on.
    const missing = await get("/console/api/agents/ghost/logs");
    expect([missing.status, missing.body]).toEqual([404, '{"error":"no_logs"}']);
    const logs = JSON.parse((await get("/console/api/agents/mail/logs")).body) as {
      logs: string;
      cut: number;
    };
    expect(logs.logs.endsWith("END")).toBe(true);
    expect(logs.logs.length + logs.cut).toBe(70 * 1024 + 3);
    expect(logs.logs.length).toBe(64 * 1024);
  });
});

describe("searchAudit()", () => {
  const rows = auditRows(2500);
  const control = {
    listAudit: async (after: number, limit: number) => rows.filter((r) => r.seq > after).slice(0, limit),
  };

  it("pages newest first, 50 at a time, to the oldest row", async () => {
    const seen: number[] = [];
    let before: number | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await searchAudit(control, { limit: 50, before });
      seen.push(...page.rows.map((r) => r.seq));
      if (page.older === null) break;
      before = page.older;
    }
    expect(seen).toEqual(rows.map((r) => r.seq).reverse());
  });

  it("filters by agent, host (case-insensitive parts) and decision", async () => {
    const page = await searchAudit(control, { agent: "MAIL", host: "evil", decision: "deny", limit: 1000 });
    const want = rows
      .filter((r) => r.entry.agent === "mail" && r.entry.host === "evil.test" && r.entry.verdict === "deny")
      .map((r) => r.seq)
      .reverse();
    expect(want.length).toBeGreaterThan(10);
    expect(page.rows.map((r) => r.seq)).toEqual(want);
    expect(page.older).toBeNull();
    expect(page.rows[0]).toMatchObject({ agent: "mail", host: "evil.test", verdict: "deny", method: "GET" });
  });
});
