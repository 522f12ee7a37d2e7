/**
 * SIGTERM: the gateway stops accepting, lets in-flight requests finish, answers held approvals 503
 * `gateway_shutting_down`, and exits 0.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentCredentials, type GatewayProcess, startGateway } from "../fakes/gateway-process.js";
import { proxyRequest } from "../fakes/proxy-client.js";
import { type RecordingUpstream, startUpstream } from "../fakes/upstreams.js";
import { DEFAULTS, PAY_POLICY } from "./approval-policy.js";
import { waitForPending } from "./approvals-api.js";
import { expectWardenError } from "./expect-warden-error.js";

let up: RecordingUpstream;
let gw: GatewayProcess;
let agent: AgentCredentials;

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

beforeAll(async () => {
  up = await startUpstream();
  gw = await startGateway({
    policies: { _defaults: DEFAULTS, pay: PAY_POLICY },
    resolve: { "pay.test": `127.0.0.1:${up.port}` },
  });
  agent = await gw.createAgent("leaver");
});

afterAll(async () => {
  await gw?.cleanup();
  await up?.close();
});

describe("SIGTERM", () => {
  it("answers held requests 503, finishes in-flight ones, and exits 0", async () => {
    const auth = { agent: "leaver", token: agent.token };
    const held = proxyRequest(gw, `http://pay.test:${up.port}/pay/at-shutdown`, {
      auth,
      method: "POST",
      body: "{}",
    });
    await waitForPending(gw, "/pay/at-shutdown");

    const gate = up.nextGate();
    const inFlight = proxyRequest(gw, `http://pay.test:${up.port}/gate`, { auth });
    const release = await gate;

    const { port } = gw.proxy;
    const exit = gw.stop("SIGTERM");
    const heldRes = await held;
    expectWardenError(heldRes, "gateway_shutting_down");

    release();
    const inFlightRes = await inFlight;
    expect(inFlightRes.status).toBe(200);
    expect(inFlightRes.text).toBe("released");

    expect(await exit).toEqual({ code: 0, signal: null });
    expect(await refusesConnections(port)).toBe(true);
    expect(up.requests.map((r) => r.url)).toEqual(["/gate"]);
  });
});
