/**
 * Address checks: without `--resolve`, a destination that is loopback/private is refused with
 * `private_address` unless its policy says `allow_private: true`. Only 127.0.0.0/8 is used: the
 * upstreams listen on 127.0.0.2 and 127.0.0.3, which are loopback and so "private".
 */
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { openTunnel, proxyRequest, requestOverTls } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { expectWardenError } from "./expect-warden-error.js";

let closed: RecordingUpstream;
let open: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

const auth = () => ({ agent: "addr", token: agent.token });

beforeAll(async () => {
  closed = await startUpstream({ host: "127.0.0.2" });
  open = await startUpstream({ host: "127.0.0.3" });
  // The upstreams listen on random ports, which the policies list (the default is 80 and 443).
  const ports = [closed.port, open.port];
  gw = await startGateway({
    policies: {
      two: { hosts: ["127.0.0.2"], ports, rules: [], default: "allow" },
      three: { hosts: ["127.0.0.3"], ports, allow_private: true, rules: [], default: "allow" },
      local: { hosts: ["localhost"], ports, rules: [], default: "allow" },
    },
  });
  agent = await gw.createAgent("addr");
});

afterAll(async () => {
  await gw?.cleanup();
  await closed?.close();
  await open?.close();
});

describe("private destinations", () => {
  it("refuses an IP-literal loopback host without allow_private", async () => {
    const res = await proxyRequest(gw, `http://127.0.0.2:${closed.port}/`, { auth: auth() });
    expectWardenError(res, "private_address");
    expect(closed.connections()).toBe(0);
  });

  it("refuses a name that resolves to loopback without allow_private", async () => {
    const res = await proxyRequest(gw, `http://localhost:${closed.port}/`, { auth: auth() });
    expectWardenError(res, "private_address");
  });

  it.each([
    // why                                    URL authority (all mean 127.0.0.2)
    ["IPv4-mapped IPv6", (p: number) => `[::ffff:127.0.0.2]:${p}`],
    ["IPv4-mapped IPv6, hex form", (p: number) => `[::ffff:7f00:2]:${p}`],
    ["decimal integer", (p: number) => `2130706434:${p}`],
    ["hex integer", (p: number) => `0x7f000002:${p}`],
    ["octal dotted", (p: number) => `0177.0.0.02:${p}`],
    ["short dotted", (p: number) => `127.2:${p}`],
  ])("refuses the %s spelling of a private address", async (_why, authority) => {
    const res = await proxyRequest(gw, `http://${authority(closed.port)}/`, { auth: auth() });
    // Refusing the spelling as malformed (400) is as good as refusing the address (403).
    expect([400, 403], res.text).toContain(res.status);
    expect(res.errorCode).toBeTruthy();
    expect(closed.connections()).toBe(0);
  });

  it("refuses a CONNECT to a private address, at the CONNECT or at the first request inside", async () => {
    const tunnel = await openTunnel(gw, `127.0.0.2:${closed.port}`, auth());
    if (tunnel.status === 200) {
      // Identity of an IP-literal leaf is not what this test is about; the verdict inside is.
      const tls = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect(
          { socket: tunnel.socket, ca: [gw.caPem], checkServerIdentity: () => undefined },
          () => resolve(s),
        );
        s.once("error", reject);
      });
      const res = await requestOverTls(tls, `127.0.0.2:${closed.port}`, "/", {});
      expectWardenError(res, "private_address");
      tls.destroy();
    } else {
      expect(tunnel.status).toBe(403);
      expect(tunnel.headers["x-warden-error"]).toBe("private_address");
    }
    expect(closed.connections()).toBe(0);
  });

  it("forwards to a private address whose policy says allow_private: true", async () => {
    const res = await proxyRequest(gw, `http://127.0.0.3:${open.port}/ok`, { auth: auth() });
    expect(res.status, res.text).toBe(200);
    expect(open.requests.map((r) => r.url)).toEqual(["/ok"]);
  });
});
