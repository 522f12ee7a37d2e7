/**
 * Two real `warden gateway` processes on one PostgreSQL act as one Warden (DESIGN §8): a request held
 * on A is released by a decision made through B; a request is used once; the audit is one chain
 * under interleaved writers; a rate limit counts across both; when A dies mid-hold (SIGKILL) the
 * agent's retry through B joins the same approval; one replica leads, and the other takes over
 * within 15 s of the leader's death.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { pollUntil } from "../fakes/poll-until.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { postgresUnavailable, startPostgres, type TestPostgres } from "../support/postgres.js";
import { DEFAULTS, PAY_POLICY, track } from "./approval-policy.js";
import { decide, listApprovals, waitForPending } from "./approvals-api.js";

const skip = postgresUnavailable();

describe.skipIf(skip !== undefined)(
  `two replicas on one PostgreSQL${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let pg: TestPostgres;
    let up: RecordingUpstream;
    let a: GatewayProcess;
    let b: GatewayProcess;
    let agent: AgentCredentials;

    beforeAll(async () => {
      pg = await startPostgres();
      up = await startUpstream();
      const url = await pg.schema("replicas");
      const env = { WARDEN_DATABASE_URL: url, WARDEN_MASTER_KEY: randomBytes(32).toString("hex") };
      const policies = {
        _defaults: DEFAULTS,
        pay: PAY_POLICY,
        lim: { hosts: ["lim.test"], rate_limit: "7/h", rules: [], default: "allow" },
      };
      const resolve = { "pay.test": `127.0.0.1:${up.port}`, "lim.test": `127.0.0.1:${up.port}` };
      a = await startGateway({ policies, resolve, env, args: ["--replica-id", "A"] });
      b = await startGateway({ policies, resolve, env, args: ["--replica-id", "B"] });
      agent = await a.createAgent("twin-agent");
    }, 120_000);

    afterAll(async () => {
      await a?.cleanup();
      await b?.cleanup();
      await up?.close();
      await pg?.stop();
    });

    const via = (gw: GatewayProcess, path: string, body: string, host = "pay.test") =>
      proxyRequest(gw, `http://${host}:${up.port}${path}`, {
        auth: { agent: agent.name, token: agent.token },
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });

    it("/v1/health names each replica, the store, and exactly one leader; both share one CA", async () => {
      const health = await Promise.all(
        [a, b].map(async (gw) => (await gw.control("GET", "/v1/health")).body),
      );
      expect(health.map((h) => [h.ok, h.replica, h.store])).toEqual([
        [true, "A", "postgres"],
        [true, "B", "postgres"],
      ]);
      expect(health.filter((h) => h.leader === true)).toHaveLength(1);
      expect(b.caPem).toBe(a.caPem);
      expect(b.controlToken).toBe(a.controlToken);
    });

    it("a request held on A is released by an approval made through B, and goes upstream once", async () => {
      const before = up.requests.length;
      const held = track(via(a, "/pay/cross", '{"n":1}'));
      const approval = await waitForPending(b, "/pay/cross");
      expect((await decide(b, approval.id, "approve", "test:alice")).status).toBe(200);
      const res = await held.promise;
      expect(res.status, res.text).toBe(200);
      expect(up.requests.length - before).toBe(1);
      // Used once: the same request again (on either replica) needs a new approval.
      const again = track(via(b, "/pay/cross", '{"n":1}'));
      const second = await waitForPending(a, "/pay/cross");
      expect(second.id).not.toBe(approval.id);
      expect((await decide(a, second.id, "deny", "test:bob")).status).toBe(200);
      expect((await again.promise).status).toBe(403);
      expect(up.requests.length - before).toBe(1);
    });

    it("a rate limit of 7 per hour lets exactly 7 through across both replicas", async () => {
      const statuses = await Promise.all(
        [...Array(16).keys()].map((i) =>
          via(i % 2 ? a : b, `/x/${i}`, "{}", "lim.test").then((r) => r.status),
        ),
      );
      expect(
        statuses.filter((s) => s === 200),
        JSON.stringify(statuses),
      ).toHaveLength(7);
      expect(statuses.filter((s) => s === 429)).toHaveLength(9);
    });

    it("1,000 requests interleaved on both leave one audit chain that verifies", async () => {
      const send = (i: number) =>
        proxyRequest(i % 2 ? a : b, `http://pay.test:${up.port}/read/${i}`, {
          auth: { agent: agent.name, token: agent.token },
        }).then((r) => r.status);
      for (let i = 0; i < 1000; i += 50) {
        const batch = await Promise.all([...Array(50).keys()].map((k) => send(i + k)));
        expect(batch.every((s) => s === 200)).toBe(true);
      }
      // Audit rows are written in batches after the response, so the last
      // few land a moment later: wait (within DESIGN §8's 5 s propagation
      // bound) until all 1,000 are in, and check the chain on every read.
      for (const gw of [a, b]) {
        const deadline = Date.now() + 5_000;
        for (;;) {
          const v = await gw.control("GET", "/v1/audit/verify");
          expect(v.body.ok, v.text).toBe(true);
          if (v.body.entries >= 1000) break;
          expect(Date.now(), `only ${v.body.entries} audit rows after 5 s`).toBeLessThan(deadline);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      const rows = (await a.control("GET", "/v1/audit?after=0&limit=10000")).body as {
        seq: number;
        hash: string;
        prevHash: string;
      }[];
      rows.forEach((r, i) => {
        expect(r.seq).toBe(i + 1);
        if (i > 0) expect(r.prevHash).toBe(rows[i - 1]?.hash);
      });
    }, 120_000);

    it("A dies mid-hold (SIGKILL): the retry through B joins the same approval; B leads within 15 s", async () => {
      const before = up.requests.length;
      const body = '{"invoice":"K-1"}';
      void via(a, "/pay/killed", body).catch(() => undefined);
      const approval = await waitForPending(b, "/pay/killed");
      await a.stop("SIGKILL");
      const retry = track(via(b, "/pay/killed", body));
      await new Promise((r) => setTimeout(r, 500));
      expect((await listApprovals(b)).filter((x) => x.path === "/pay/killed").map((x) => x.id)).toEqual([
        approval.id,
      ]);
      expect(retry.settled()).toBe(false);
      expect((await decide(b, approval.id, "approve", "test:alice")).status).toBe(200);
      const res = await retry.promise;
      expect(res.status, res.text).toBe(200);
      expect(up.requests.length - before).toBe(1);
      expect(up.requests.at(-1)?.body.toString()).toBe(body);
      const t0 = Date.now();
      await pollUntil(
        "B to lead",
        async () => (await b.control("GET", "/v1/health")).body.leader === true || undefined,
        15_000,
      );
      expect(Date.now() - t0).toBeLessThan(15_000);
    }, 60_000);
  },
);
