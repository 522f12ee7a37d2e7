/**
 * Policy replay against a recorded audit (DESIGN §6, issue #10): real requests go through the real
 * `warden gateway` (allowed, approved, denied by an approver, refused by policy, rate limited, a
 * refused CONNECT), then `POST /v1/policies/test` with a replay window evaluates those audited rows
 * against an edited policy. Changes are counted exactly per transition; rows whose old decision the
 * audit does not hold, or whose new one depends on a body the audit does not keep, are counted as
 * "cannot replay", never guessed. The single-request form of the endpoint is unchanged.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ReplayTransition } from "../../policies/index.js";
import {
  type AgentCredentials,
  type GatewayProcess,
  startGateway,
  WARDEN_BIN,
} from "../fakes/gateway-process.js";
import { openTunnel, proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { track } from "./approval-policy.js";
import { decide, waitForPending } from "./approvals-api.js";

const APPROVERS = ["test:alice"];
const SHOP = {
  hosts: ["shop.test"],
  rules: [
    { name: "read", methods: ["GET"], paths: ["/items/*"], action: "allow" },
    { name: "pay", methods: ["POST"], paths: ["/pay/*"], action: "approve", approvers: APPROVERS },
  ],
  default: "deny",
};

/** The edited shop policy: reads of /items/a stay allowed, other reads need a human, most payments are denied. */
const EDITED = `hosts: [shop.test]
rules:
  - name: read-a
    methods: [GET]
    paths: ["/items/a"]
    action: allow
  - name: read-others
    methods: [GET]
    paths: ["/items/*"]
    action: approve
    approvers: ["test:alice"]
  - name: delete-notes
    methods: [DELETE]
    body_contains: [note]
    action: allow
  - name: pay-one
    methods: [POST]
    paths: ["/pay/1"]
    action: approve
    approvers: ["test:alice"]
  - name: no-pay
    methods: [POST]
    paths: ["/pay/*"]
    action: deny
default: deny
`;

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

const auth = () => ({ agent: "shopper", token: agent.token });
const send = (method: string, host: string, path: string) =>
  proxyRequest(gw, `http://${host}:${up.port}${path}`, {
    auth: auth(),
    method,
    ...(method === "POST" && { body: "{}", headers: { "content-type": "application/json" } }),
  });

async function approvedPost(path: string, decision: "approve" | "deny"): Promise<number> {
  const held = track(send("POST", "shop.test", path));
  const approval = await waitForPending(gw, path);
  expect((await decide(gw, approval.id, decision, "test:alice")).status).toBe(200);
  return (await held.promise).status;
}

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: {
      _defaults: { unknown_hosts: "deny", approval_timeout: "15m", approvers: APPROVERS },
      shop: SHOP,
      lim: { hosts: ["lim.test"], rate_limit: "1/h", rules: [], default: "allow" },
    },
    resolve: {
      "shop.test": `127.0.0.1:${up.port}`,
      "lim.test": `127.0.0.1:${up.port}`,
      "unknown.test": `127.0.0.1:${up.port}`,
    },
  });
  agent = await gw.createAgent("shopper");

  // The recorded audit: 11 request rows.
  for (const p of ["/items/a", "/items/b", "/items/c"])
    expect((await send("GET", "shop.test", p)).status).toBe(200);
  expect(await approvedPost("/pay/1", "approve")).toBe(200);
  expect(await approvedPost("/pay/2", "approve")).toBe(200);
  expect(await approvedPost("/pay/3", "deny")).toBe(403); // approval_denied: the policy said approve
  expect((await send("DELETE", "shop.test", "/items/a")).status).toBe(403); // policy_denied
  expect((await send("GET", "unknown.test", "/")).status).toBe(403); // host_not_allowed
  expect((await send("GET", "lim.test", "/x")).status).toBe(200);
  expect((await send("GET", "lim.test", "/y")).status).toBe(429); // rate_limited: no policy verdict kept
  expect((await openTunnel(gw, "nowhere.test:443", auth())).status).toBe(403); // a whole tunnel refused
}, 120_000);

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

const replay = (body: Record<string, unknown>) => gw.control("POST", "/v1/policies/test", body);
const transition = (report: { transitions: ReplayTransition[] }, from: string, to: string) =>
  report.transitions.find((t) => t.from === from && t.to === to);

describe("policy replay over a recorded audit", () => {
  it("counts allow→approve and approve→deny exactly, with examples, and never guesses", async () => {
    const res = await replay({ policy: "shop", yaml: EDITED, replay: "1h" });
    expect(res.status, res.text).toBe(200);
    const r = res.body;
    expect(r).toMatchObject({ policy: "shop", window: "1h", truncated: false, total: 11 });
    expect(r.until - r.since).toBe(3_600_000);
    expect(transition(r, "allow", "approve")?.count).toBe(2);
    expect(transition(r, "approve", "deny")?.count).toBe(2);
    for (const t of r.transitions)
      if (!["allow>approve", "approve>deny"].includes(`${t.from}>${t.to}`))
        expect(t.count, `${t.from}>${t.to}`).toBe(0);
    expect(r.changed).toBe(4);
    // /items/a, /pay/1 (approve by another rule), unknown.test, the allowed lim.test request.
    expect(r.unchanged).toBe(4);
    expect(r.otherRule).toBe(2);
    expect(r.cannotReplay).toEqual({ count: 3, reasons: { no_decision: 1, tunnel: 1, body: 1 } });
    expect(r.unchanged + r.changed + r.cannotReplay.count).toBe(r.total);

    const up2 = transition(r, "allow", "approve")?.examples ?? [];
    expect(up2.map((e: { url: string }) => e.url)).toEqual([
      `shop.test:${up.port}/items/b`,
      `shop.test:${up.port}/items/c`,
    ]);
    expect(up2[0]).toMatchObject({
      agent: "shopper",
      method: "GET",
      from: "allow",
      to: "approve",
      fromRule: "shop/read",
      toRule: "shop/read-others",
    });
    const down = transition(r, "approve", "deny")?.examples ?? [];
    expect(down.map((e: { url: string }) => e.url.replace(/^.*\//, ""))).toEqual(["2", "3"]);
    expect(down[0]).toMatchObject({ fromRule: "shop/pay", toRule: "shop/no-pay" });
  });

  it("writes nothing: the policy file on disk and the policy in force are unchanged", async () => {
    const onDisk = await readFile(join(gw.policiesDir, "shop.yaml"), "utf8");
    expect(onDisk).not.toContain("no-pay");
    const inForce = await replay({ agent: "shopper", method: "POST", url: "https://shop.test/pay/2" });
    expect(inForce.body).toMatchObject({ verdict: "approve", rule: "pay" });
  });

  it("without yaml replays the file as it is on disk: nothing changes", async () => {
    const res = await replay({ policy: "shop", replay: "1h" });
    expect(res.status, res.text).toBe(200);
    expect(res.body.changed).toBe(0);
    // The current file has no body rules: only the rate-limited row and the tunnel cannot replay.
    expect(res.body.cannotReplay.reasons).toEqual({ no_decision: 1, tunnel: 1, body: 0 });
  });

  it("keeps at most `examples` examples per transition (the newest)", async () => {
    const res = await replay({ policy: "shop", yaml: EDITED, replay: "1h", examples: 1 });
    expect(res.status, res.text).toBe(200);
    const ex = transition(res.body, "allow", "approve")?.examples ?? [];
    expect(ex).toHaveLength(1);
    expect(ex[0]?.url).toMatch(/\/items\/c$/);
  });

  it.each([
    ["zero", "0s"],
    ["over 30 days", "31d"],
    ["compound", "1h30m"],
    ["a number", 24],
    ["too long", "1".repeat(40)],
  ])("refuses a bad window (%s) with 400 bad_window", async (_why, window) => {
    const res = await replay({ policy: "shop", yaml: EDITED, replay: window });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe("bad_window");
  });

  it("refuses an invalid edit with 422 policy_invalid and the line", async () => {
    const res = await replay({
      policy: "shop",
      yaml: "hosts: [shop.test]\nrules:\n  - name: x\n    acton: allow\n",
      replay: "1h",
    });
    expect(res.status, res.text).toBe(422);
    expect(res.body.error.code).toBe("policy_invalid");
    expect(res.body.error.issues.some((i: { line?: number }) => i.line === 4)).toBe(true);
  });

  it("answers 404 for an unknown policy without text, 400 for unknown keys or a bad name", async () => {
    expect((await replay({ policy: "nope", replay: "1h" })).status).toBe(404);
    const extra = await replay({ policy: "shop", replay: "1h", agent: "x" });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe("bad_request");
    const bad = await replay({ policy: "../etc/passwd", yaml: EDITED, replay: "1h" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("bad_request");
  });

  it("keeps the single-request form unchanged", async () => {
    const res = await replay({ agent: "shopper", method: "GET", url: "https://shop.test/items/a" });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ verdict: "allow", policy: "shop", rule: "read" });
  });

  it("warden policy test NAME --replay prints the same summary from the CLI", async () => {
    const file = join(gw.home, "..", "edited-shop.yaml");
    await writeFile(file, EDITED);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        WARDEN_BIN,
        "policy",
        "test",
        "shop",
        "--replay",
        "1h",
        "--file",
        file,
        "--control",
        `${gw.controlAddr.host}:${gw.controlAddr.port}`,
      ],
      { env: { ...process.env, WARDEN_HOME: gw.home }, timeout: 30_000 },
    );
    expect(stdout).toMatch(/^Replay of shop over the last 1h: 11 requests audited, 4 decisions would change/);
    expect(stdout).toContain("allow → approve: 2");
    expect(stdout).toContain("approve → deny: 2");
    expect(stdout).toContain("Cannot replay 3:");
  });
});
