/**
 * Class 5 (and the gateway side of 6 and 9): an approval covers exactly what goes out. Black-box
 * against the real `warden gateway`: the agent tries to ride a request on an approval made for a
 * different one (one header added, removed, changed, re-cased, duplicated), the card and the
 * full-request endpoint must tell the truth without showing a real value, and held bodies must be
 * sealed on disk, gone after use, and still good after a restart.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../../fakes/gateway-process.js";
import { pollUntil } from "../../fakes/poll-until.js";
import { proxyRequest } from "../../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../../fakes/upstreams.js";
import { APPROVERS, DEFAULTS, track } from "../approval-policy.js";
import { decide, listApprovals } from "../approvals-api.js";

const REAL = "sk_live_REAL_VALUE_never_shown_7f3a";
const POLICY = {
  hosts: ["pay.test"],
  secrets: { PAY_TOKEN: {} },
  rules: [
    // PUT too, so an override to PUT is still "approve" and the card can show it.
    {
      name: "charge",
      methods: ["POST", "PUT"],
      paths: ["/charge/*"],
      action: "approve",
      approvers: APPROVERS,
    },
    {
      name: "refund",
      methods: ["POST"],
      paths: ["/refund/*"],
      action: "approve",
      grant: "10m",
      approvers: APPROVERS,
    },
  ],
  default: "deny",
};

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
let placeholder: string;

type Headers = Record<string, string | string[]>;
const BASE: Headers = { "content-type": "application/json", "x-amount": "5", accept: "application/json" };

const post = (path: string, body: string | Buffer, headers: Headers = BASE, signal?: AbortSignal) =>
  proxyRequest(gw, `http://pay.test:${up.port}${path}`, {
    auth: { agent: agent.name, token: agent.token },
    method: "POST",
    body,
    headers: { authorization: `Bearer ${placeholder}`, ...headers },
    signal,
  });

const pendingFor = async (path: string) => (await listApprovals(gw)).filter((a) => a.path === path);
const waitPending = (path: string, n: number) =>
  pollUntil(`${n} pending approvals for ${path}`, async () => {
    const list = await pendingFor(path);
    return list.length === n ? list : undefined;
  });
const settle = async (path: string) => {
  for (const a of await pendingFor(path)) await decide(gw, a.id, "deny", "test:bob");
};
const files = async (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: DEFAULTS, pay: POLICY },
    resolve: { "pay.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("rider");
  placeholder = agent.env.PAY_TOKEN as string;
  await gw.setSecret("PAY_TOKEN", REAL);
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("a request that differs from the card in one header does not ride on its approval", () => {
  const variants: [string, Headers][] = [
    ["a header added", { ...BASE, "x-idempotency": "2" }],
    ["a header removed", { "content-type": "application/json", accept: "application/json" }],
    ["a header value changed", { ...BASE, "x-amount": "5000" }],
    ["the case of a header value changed", { ...BASE, "content-type": "Application/JSON" }],
    ["a header duplicated", { ...BASE, "x-amount": ["5", "5"] }],
  ];

  it.each(variants)("while pending: %s makes its own card instead of joining", async (_, variant) => {
    const path = `/charge/${encodeURIComponent(_.replace(/\W+/g, "-"))}`;
    up.reset();
    const body = '{"amount":5}';
    const original = track(post(path, body));
    const [card] = await waitPending(path, 1);
    const rider = track(post(path, body, variant));
    const both = await waitPending(path, 2);
    expect(both.map((a) => a.id)).toContain(card?.id);
    expect((await decide(gw, card?.id as string, "approve", "test:alice")).status).toBe(200);
    expect((await original.promise).status).toBe(200);
    expect(rider.settled()).toBe(false);
    // Exactly the approved request went out, with the headers on the card.
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]?.headers["x-amount"]).toBe("5");
    expect(up.requests[0]?.headers["x-idempotency"]).toBeUndefined();
    await settle(path);
    expect((await rider.promise).status).toBe(403);
    expect(up.requests).toHaveLength(1);
  });

  it("an approval decided while nobody waited is used only by the identical request", async () => {
    const path = "/charge/later";
    up.reset();
    const ac = new AbortController();
    const first = post(path, "{}", BASE, ac.signal).catch(() => undefined);
    const [card] = await waitPending(path, 1);
    ac.abort();
    await first;
    expect((await decide(gw, card?.id as string, "approve", "test:alice")).status).toBe(200);
    // A request differing in one header is not the approved one: it waits for its own card.
    const rider = track(post(path, "{}", { ...BASE, "x-amount": "9999" }));
    const [own] = await waitPending(path, 1);
    expect(own?.id).not.toBe(card?.id);
    expect(up.received()).toBe(0);
    // The identical request uses the approval, once.
    expect((await post(path, "{}")).status).toBe(200);
    expect(up.requests).toHaveLength(1);
    await settle(path);
    expect((await rider.promise).status).toBe(403);
  });

  it("an identical request joins the pending approval (one card) and only one of them goes out", async () => {
    const path = "/charge/join";
    up.reset();
    const a = track(post(path, '{"n":1}'));
    const [card] = await waitPending(path, 1);
    const b = track(post(path, '{"n":1}'));
    await new Promise((r) => setTimeout(r, 300));
    expect((await pendingFor(path)).map((x) => x.id)).toEqual([card?.id]);
    await decide(gw, card?.id as string, "approve", "test:alice");
    const statuses = [(await a.promise).status, (await b.promise).status].sort();
    expect(statuses).toEqual([200, 403]);
    expect(up.requests).toHaveLength(1);
  });

  it("by design a grant covers its rule whatever the headers (grants are per rule)", async () => {
    up.reset();
    const held = track(post("/refund/1", "{}"));
    const [card] = await waitPending("/refund/1", 1);
    expect(card).toMatchObject({ grantCovers: expect.stringContaining("POST") });
    await decide(gw, card?.id as string, "approve", "test:alice", "grant");
    expect((await held.promise).status).toBe(200);
    expect((await post("/refund/2", "{}", { ...BASE, "x-amount": "7" })).status).toBe(200);
    expect(up.requests).toHaveLength(2);
  });
});

describe("the card and the full held request tell the truth and never a real value", () => {
  it("lists honest facts and serves every header and the whole body, secrets named", async () => {
    const path = "/charge/facts";
    const long = "x".repeat(3000);
    const body = JSON.stringify({ memo: long, token: placeholder });
    const held = track(
      post(path, body, { ...BASE, "x-http-method-override": "PUT", "x-echo": REAL, "x-warden-reason": "r" }),
    );
    const [card] = await waitPending(path, 1);
    const view = card as unknown as Record<string, unknown>;
    expect(view.bodyBytes).toBe(Buffer.byteLength(body));
    expect(view.contentType).toBe("application/json");
    expect(view.contentEncoding).toBeNull();
    expect(String(view.bodyPreview)).toMatch(/^\{\n {2}"memo": "x+/);
    expect(String(view.bodyPreview)).toHaveLength(2000);
    // Counted on the masked text the card would show (the placeholder is shown as •••).
    const masked = JSON.stringify(JSON.parse(body.replace(placeholder, "•••")), null, 2);
    expect(view.bodyHidden).toBe(masked.length - 2000);
    expect(view.secrets).toEqual(
      expect.arrayContaining([{ name: "PAY_TOKEN", where: expect.stringMatching(/authorization header/i) }]),
    );
    expect(view.overrides).toEqual([
      { via: expect.stringMatching(/x-http-method-override/i), method: "PUT" },
    ]);
    expect(view.grantCovers).toBeNull();

    const full = await gw.control("GET", `/v1/approvals/${card?.id}/request`);
    expect(full.status, full.text).toBe(200);
    expect(full.body).toMatchObject({ id: card?.id, method: "POST", bodyEncoding: "utf8" });
    expect(full.body.body).toBe(body.replace(placeholder, "[secret PAY_TOKEN]"));
    expect(full.body.bodyBytes).toBe(Buffer.byteLength(body));
    const headers = new Map((full.body.headers as [string, string][]).map(([n, v]) => [n.toLowerCase(), v]));
    expect(headers.get("authorization")).toBe("Bearer [secret PAY_TOKEN]");
    expect(headers.get("x-echo")).toBe("[secret PAY_TOKEN]");
    expect(headers.get("x-http-method-override")).toBe("PUT");
    expect(headers.get("proxy-authorization")).toBeUndefined();
    expect(headers.has("x-warden-reason")).toBe(false);

    const everything = [
      full.text,
      JSON.stringify(await listApprovals(gw)),
      (await gw.control("GET", "/v1/audit?after=0")).text,
      gw.output(),
    ].join("\n");
    expect(everything).not.toContain(REAL);
    expect(everything).not.toContain(agent.token);
    expect(full.text).not.toContain(placeholder);

    const anonymous = await fetch(
      `http://${gw.controlAddr.host}:${gw.controlAddr.port}/v1/approvals/${card?.id}/request`,
    );
    expect(anonymous.status).toBe(401);
    expect((await gw.control("GET", "/v1/approvals/nope/request")).status).toBe(404);
    await settle(path);
    expect((await held.promise).status).toBe(403);
    expect((await gw.control("GET", `/v1/approvals/${card?.id}/request`)).body.body).toBeNull();
  });
});

describe("held bodies on disk", () => {
  // The card's 2000-character preview is stored in the clear (it is shown on cards); the marker sits
  // after it, so it can only be found on disk if the held body itself were written unsealed.
  const MARKER = "HELD-BODY-MARKER-5c1d";
  const bigBody = Buffer.from(JSON.stringify({ blob: "y".repeat(3000) + `${MARKER}:`.repeat(20_000) }));
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  async function homeContains(needle: string): Promise<string[]> {
    const hits: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if ((await readFile(p)).includes(needle)) hits.push(p);
      }
    };
    await walk(gw.home);
    return hits;
  }

  it("spools a large held body sealed (no plaintext anywhere in the home) and deletes it after use", async () => {
    up.reset();
    const held = track(post("/charge/spool", bigBody));
    const [card] = await waitPending("/charge/spool", 1);
    const spool = join(gw.home, "held");
    await pollUntil("a spool file", async () => ((await files(spool)).length === 1 ? true : undefined));
    expect(await homeContains(MARKER)).toEqual([]);
    await decide(gw, card?.id as string, "approve", "test:alice");
    expect((await held.promise).status).toBe(200);
    expect(up.requests[0]?.bodySha256).toBe(sha(bigBody));
    await pollUntil("the spool file deleted", async () =>
      (await files(spool)).length === 0 ? true : undefined,
    );
  });

  it("a restart keeps the pending approval and its spooled body: the retry joins and the held bytes go out", async () => {
    up.reset();
    const held = track(post("/charge/restart", bigBody));
    const [card] = await waitPending("/charge/restart", 1);
    const spool = join(gw.home, "held");
    await pollUntil("a spool file", async () => ((await files(spool)).length === 1 ? true : undefined));
    // Left by a crash: a body no approval waits for. Start removes it and keeps the live one.
    await writeFile(join(spool, "00000000-dead-4000-8000-000000000000.body"), "orphan");
    await gw.restart();
    expect((await held.promise).status).toBe(503);
    expect(await files(spool), String(await files(spool))).toEqual([`${card?.id}.body`]);
    const full = await gw.control("GET", `/v1/approvals/${card?.id}/request`);
    expect(full.body.bodyBytes).toBe(bigBody.length);
    expect(full.body.body).toBe(bigBody.toString());
    const retry = track(post("/charge/restart", bigBody));
    await new Promise((r) => setTimeout(r, 500));
    expect((await pendingFor("/charge/restart")).map((a) => a.id)).toEqual([card?.id]);
    await decide(gw, card?.id as string, "approve", "test:alice");
    expect((await retry.promise).status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]?.bodySha256).toBe(sha(bigBody));
    await pollUntil("the spool file deleted", async () =>
      (await files(spool)).length === 0 ? true : undefined,
    );
  });
});
