/**
 * Adapts a running gateway to the `GatewayPort` the agent manager needs, so agents/ depends on a
 * five-member interface instead of the gateway's internals.
 */
import { readFile } from "node:fs/promises";
import type { Gateway } from "../gateway/index.js";
import type { GatewayPort } from "./manager.js";

export async function gatewayPort(gw: Gateway): Promise<GatewayPort> {
  const bundlePem = await readFile(gw.bundlePath, "utf8");
  return {
    bundlePem,
    async register(agent) {
      // Socket agents need no proxy token, but they must exist for listing, audit and placeholders.
      if (!(await gw.credentials.hasAgent(agent))) await gw.credentials.issueToken(agent);
    },
    listenAgentSocket: (agent, path) => gw.listenAgentSocket(agent, path),
    closeAgentSocket: (agent) => gw.closeAgentSocket(agent),
    placeholderEnv: (agent) => gw.placeholderEnv(agent),
  };
}
