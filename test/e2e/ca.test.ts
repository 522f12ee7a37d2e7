/**
 * The install CA and TLS interception: CONNECT is answered with a leaf for the requested host,
 * signed by `home/ca/ca.pem`, which stays the same across restarts; upstream TLS is verified
 * against `--upstream-ca`.
 */
import { X509Certificate } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { proxyRequest, tunnelTls } from "../fakes/proxy-client.js";
import { createTestCa } from "../fakes/test-ca.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { expectWardenError } from "./expect-warden-error.js";

let api: RecordingUpstream;
let rogue: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;
let deadPort: number;

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const ca = await createTestCa();
  const rogueCa = await createTestCa("Rogue CA nobody trusts");
  api = await startUpstream({ tls: await ca.issue(["api.test"]) });
  rogue = await startUpstream({ tls: await rogueCa.issue(["rogue.test"]) });
  deadPort = await closedPort();
  const allowAll = (host: string) => ({ hosts: [host], rules: [], default: "allow" });
  gw = await startGateway({
    policies: { api: allowAll("api.test"), rogue: allowAll("rogue.test"), dead: allowAll("dead.test") },
    upstreamCa: [ca.pemPath],
    resolve: {
      "api.test": `127.0.0.1:${api.port}`,
      "rogue.test": `127.0.0.1:${rogue.port}`,
      "dead.test": `127.0.0.1:${deadPort}`,
    },
  });
  agent = await gw.createAgent("ca-agent");
});

afterAll(async () => {
  await gw?.cleanup();
  await api?.close();
  await rogue?.close();
});

const auth = () => ({ agent: "ca-agent", token: agent.token });

describe("Warden CA", () => {
  it("is a CA certificate whose key and the control token are private to the owner", () => {
    const cert = new X509Certificate(gw.caPem);
    expect(cert.ca).toBe(true);
    const caDir = join(gw.home, "ca");
    const keyFiles = readdirSync(caDir).filter((f) => /key/i.test(f));
    expect(keyFiles.length).toBeGreaterThan(0);
    for (const file of keyFiles) expect(statSync(join(caDir, file)).mode & 0o077, file).toBe(0);
    expect(statSync(join(gw.home, "control.token")).mode & 0o077).toBe(0);
  });

  it("is what the agent env points its CA bundle variables at", () => {
    const bundlePath = agent.env.NODE_EXTRA_CA_CERTS;
    expect(bundlePath).toBeTruthy();
    const bundle = readFileSync(bundlePath as string, "utf8");
    expect(bundle).toContain(gw.caPem.trim());
    for (const name of ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]) {
      if (agent.env[name] !== undefined)
        expect(readFileSync(agent.env[name] as string, "utf8"), name).toContain(gw.caPem.trim());
    }
  });

  it("intercepts CONNECT with a leaf for the requested host signed by the Warden CA", async () => {
    const tls = await tunnelTls(gw, "api.test", api.port, auth());
    try {
      expect(tls.authorized).toBe(true);
      const peer = tls.getPeerX509Certificate();
      expect(peer).toBeDefined();
      const leaf = peer as X509Certificate;
      expect(leaf.subjectAltName ?? "").toMatch(/(^|, )DNS:api\.test(,|$)/);
      expect(leaf.checkHost("api.test")).toBe("api.test");
      const ca = new X509Certificate(gw.caPem);
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
      expect(leaf.ca).toBe(false);
    } finally {
      tls.destroy();
    }
  });

  it("lets an HTTPS client that trusts only the Warden CA reach a test-CA upstream", async () => {
    api.reset();
    const res = await proxyRequest(gw, `https://api.test:${api.port}/tls-ok`, { auth: auth() });
    expect(res.status).toBe(200);
    expect(res.json().url).toBe("/tls-ok");
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.headers.host).toMatch(/^api\.test(:\d+)?$/);
  });

  it("answers upstream_tls when the upstream certificate is not trusted", async () => {
    const res = await proxyRequest(gw, `https://rogue.test:${rogue.port}/x`, { auth: auth() });
    expectWardenError(res, "upstream_tls");
    expect(rogue.requests).toHaveLength(0);
  });

  it("answers upstream_unreachable when nothing listens upstream", async () => {
    const res = await proxyRequest(gw, `http://dead.test:${deadPort}/x`, { auth: auth() });
    expectWardenError(res, "upstream_unreachable");
  });

  it("keeps the same CA certificate across a restart", async () => {
    const before = gw.caPem;
    const onDisk = readFileSync(join(gw.home, "ca", "ca.pem"), "utf8");
    await gw.restart();
    expect(gw.caPem).toBe(before);
    expect(readFileSync(join(gw.home, "ca", "ca.pem"), "utf8")).toBe(onDisk);
    const tls = await tunnelTls(gw, "api.test", api.port, auth());
    expect(tls.authorized).toBe(true);
    tls.destroy();
  });
});
