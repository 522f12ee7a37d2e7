/**
 * `warden start`: the gateway, the demo service and the Docker runtime in one process. When no
 * Docker engine answers, the gateway still runs and the reason is printed with what to do.
 */
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { createDockerRuntime } from "../agents/docker-runtime.js";
import { startDemoService } from "../agents/demo-service.js";
import { gatewayPort } from "../agents/gateway-port.js";
import { buildAgentImage } from "../agents/image/build-image.js";
import { type AgentManager, createAgentManager } from "../agents/manager.js";
import type { Provider } from "../agents/runtime.js";
import { type AgentHooks, type HostPort, type Log, startGateway } from "../gateway/index.js";
import { seedPolicies } from "./store-commands.js";

export interface StartOptions {
  readonly home: string;
  readonly repoRoot: string;
  readonly listen: HostPort;
  readonly control: HostPort;
  readonly masterKey?: string;
  /** Non-secret provider settings passed to agents (OPENAI_BASE_URL, OPENAI_MODEL, …). */
  readonly agentEnv: Record<string, string>;
  readonly log: Log;
  readonly say: (line: string) => void;
}

const PROVIDERS: readonly Provider[] = ["demo", "openai", "claude"];
/** The approver id of whoever holds the control token, as `role:owner`. */
export const LOCAL_OWNER = "local:owner";

export async function runStart(o: StartOptions) {
  const policies = join(o.home, "policies");
  const seeded = await seedPolicies(policies);
  if (seeded > 0) o.say(`seeded ${seeded} preset policies into ${policies}`);

  const demoKey = randomBytes(16).toString("hex");
  const demo = await startDemoService({ apiKey: demoKey });
  let manager: AgentManager | undefined;
  let noRuntime = "agent containers are not available";
  const hooks: AgentHooks = {
    async started(name, provider) {
      if (!manager) throw new Error(noRuntime);
      const p = (provider ?? "demo") as Provider;
      if (!PROVIDERS.includes(p)) throw new Error(`provider must be one of ${PROVIDERS.join(", ")}`);
      return { ...(await manager.start(name, { provider: p, env: o.agentEnv })) };
    },
    stopped: async (name) => void (await manager?.stop(name)),
    describe: async (name) => ({ ...(manager?.state(name) ?? { state: "stopped" }) }),
    exec: (name, cmd) => (manager ? runtime.exec(name, cmd) : Promise.reject(new Error(noRuntime))),
    logs: (name) => (manager ? runtime.logs(name) : Promise.reject(new Error(noRuntime))),
  };
  const gateway = await startGateway({
    home: o.home,
    policiesDir: policies,
    listen: o.listen,
    control: o.control,
    resolve: new Map([["demo.warden.local", { host: "127.0.0.1", port: demo.port }]]),
    masterKey: o.masterKey,
    hooks,
    log: o.log,
    // Until the chat bot knows people, the operator holding the control token is the owner.
    roles: { hasRole: (id, role) => role === "owner" && id === LOCAL_OWNER },
    // Activity keeps an agent's container up; a message for an idle-stopped agent wakes it.
    mailboxEvents: {
      delivered: (agent) => void manager?.wake(agent),
      outbox: (m) => manager?.touch(m.agent),
      status: (agent) => manager?.touch(agent),
    },
  });
  // The demo key is a real secret for the demo service: agents only ever see its placeholder.
  gateway.credentials.setSecret("DEMO_API_KEY", demoKey);

  const runtime = createDockerRuntime({
    instance: createHash("sha256").update(o.home).digest("hex").slice(0, 8),
  });
  try {
    const orphans = await runtime.cleanupOrphans();
    if (orphans > 0) o.say(`removed ${orphans} agent container(s) left by a previous run`);
    o.say("building the agent image (cached after the first time)…");
    const image = await buildAgentImage({
      repoRoot: o.repoRoot,
      runnerDir: join(o.repoRoot, "dist", "agents", "runner"),
      onProgress: (line) => o.say(`  ${line}`),
    });
    manager = createAgentManager({
      runtime,
      gateway: await gatewayPort(gateway),
      dir: join(o.home, "agents"),
      image: image.tag,
      log: o.log,
    });
    const resumed = await manager.resume();
    if (resumed.length > 0) o.say(`restarted agents that were running before: ${resumed.join(", ")}`);
  } catch (err) {
    noRuntime = `agent containers are not available: ${(err as Error).message.split("\n")[0]}`;
    o.say(
      `${noRuntime}\n  Install and start Docker (Debian: apt-get install docker.io && dockerd &), then restart warden.`,
    );
  }

  return {
    gateway,
    async close(): Promise<void> {
      await manager?.stopAll();
      await gateway.close();
      await demo.close();
    },
  };
}
