/**
 * Class 9 (ports): a policy names the ports its hosts may be reached on (default 80 and 443). An
 * agent allowed to talk to a host tries another port of it (a database, SSH, an admin port), in
 * absolute form and at CONNECT (the tunnel is refused before any TLS work), and on a host only
 * `_defaults` would approve. Each is `host_not_allowed` before any address is dialled: nothing
 * connects, the audit row says so.
 * Hosts pinned by `--resolve` are dialled at the operator's port, so these use real names
 * (`localhost`, `127.0.0.1`) that the gateway resolves itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditFor, type PolicyWorld, sendRaw, startPolicyWorld, type Via } from "./policy-world.js";

let w: PolicyWorld;
// Nothing listens here; a refused request never tries.
const CLOSED_PORT = 6390;
let n = 0;

const absolute = (host: string, port: number): Via => ({
  label: `absolute ${host}:${port}`,
  mode: { kind: "absolute" },
  host: `${host}:${port}`,
  target: (p) => `http://${host}:${port}${p}`,
});
const tunnel = (host: string, port: number): Via => ({
  label: `tunnel ${host}:${port}`,
  mode: { kind: "tls-tunnel", authority: `${host}:${port}` },
  host: `${host}:${port}`,
  target: (p) => p,
});

beforeAll(async () => {
  w = await startPolicyWorld({
    policies: {
      // 127.0.0.1 with no `ports`: only 80 and 443.
      defport: { hosts: ["127.0.0.1"], allow_private: true, rules: [], default: "allow" },
    },
    defaults: { unknown_hosts: "approve", approvers: ["test:nobody"], approval_timeout: "2s" },
    tlsNames: ["localhost"],
  });
  // The upstreams' ports are known only now: allow exactly those on localhost.
  await w.gw.writePolicy("local", {
    hosts: ["localhost"],
    allow_private: true,
    ports: [w.plain.port, w.tls.port],
    rules: [],
    default: "allow",
  });
  const reload = await w.gw.control("POST", "/v1/policies/reload");
  if (reload.status !== 200) throw new Error(reload.text);
}, 120_000);

afterAll(async () => {
  await w?.close();
});

describe("ports", () => {
  // biome-ignore format: a table reads best one row per line
  it.each<[string, () => Via]>([
    ["a listed host on a port its policy does not list",        () => absolute("localhost", CLOSED_PORT)],
    ["a host whose policy lists no ports, on a high port",      () => absolute("127.0.0.1", w.plain.port)],
    ["an unknown host _defaults would approve, on a high port", () => absolute("unknown.test", CLOSED_PORT)],
  ])("refuses %s", async (why, makeVia) => {
    const via = makeVia();
    const i = n++;
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const path = `/port-${i}`;
    const res = await sendRaw(w, via, { method: "GET", pathAndQuery: path });
    expect(res.errors, `${why}: ${res.text}`).toEqual(["host_not_allowed"]);
    expect(res.statuses, why).toEqual([403]);
    expect(w.upstreamCount(), why).toBe(before);
    expect(await auditFor(w, seq, path), why).toMatchObject([{ verdict: "deny", code: "host_not_allowed" }]);
    // Nothing was held for a human either.
    const pending = await w.gw.control("GET", "/v1/approvals?state=pending");
    expect(pending.body, why).toEqual([]);
  });

  // A tunnel whose every request would be refused is refused at CONNECT: no leaf is minted.
  it.each([
    ["a listed host on an unlisted port", "localhost"],
    ["an unknown host _defaults would approve, on a high port", "unknown.test"],
  ])("refuses the CONNECT for %s", async (why, host) => {
    const seq = await w.lastSeq();
    const before = w.upstreamCount();
    const err = await sendRaw(w, tunnel(host, CLOSED_PORT), { method: "GET", pathAndQuery: "/never" }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err, why).toMatch(/CONNECT refused: HTTP\/1\.1 403[\s\S]*x-warden-error: host_not_allowed/);
    expect(w.upstreamCount(), why).toBe(before);
    const rows = (await w.auditAfter(seq)).filter((e) => e.method === "CONNECT" && e.host === host);
    expect(rows, why).toMatchObject([{ verdict: "deny", code: "host_not_allowed", port: CLOSED_PORT }]);
  });

  it("lets the listed ports through, plain and tunnelled (control)", async () => {
    const plain = await sendRaw(w, absolute("localhost", w.plain.port), {
      method: "GET",
      pathAndQuery: "/open",
    });
    expect(plain.statuses, plain.text).toEqual([200]);
    const tls = await sendRaw(w, tunnel("localhost", w.tls.port), { method: "GET", pathAndQuery: "/open" });
    expect(tls.statuses, tls.text).toEqual([200]);
    expect(w.plain.requests.at(-1)?.line).toContain("/open");
    expect(w.tls.requests.at(-1)?.line).toContain("/open");
  });
});
