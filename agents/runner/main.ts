/**
 * Entry point of the agent runner, the program inside each agent's container (DESIGN.md §5). It is
 * the runner's composition root and the only runner file that reads `process.env`. It uses Node
 * built-ins only, because the image is built offline without node_modules (the claude provider loads
 * its SDK lazily and reports clearly when it is missing).
 *
 * Stdout carries exactly one JSON line, `{"event":"runner_ready"}`, which the runtime waits for;
 * everything else is logged as JSON lines on stderr.
 */
import { existsSync } from "node:fs";
import type { Brain } from "./brain.js";
import { loadRunnerConfig, type RunnerConfig } from "./config.js";
import { type Forwarder, startForwarder } from "./forwarder.js";
import { createHttpTool } from "./http-tool.js";
import { startTokenForwarder } from "./k8s-token.js";
import { createMailboxClient } from "./mailbox-client.js";
import { createClaudeBrain } from "./providers/claude.js";
import { createDemoBrain } from "./providers/demo.js";
import { createOpenAiBrain } from "./providers/openai.js";
import { type ProxyEndpoint, parseProxyUrl } from "./proxy-request.js";
import { runLoop } from "./run-loop.js";
import { createTools } from "./tools.js";

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), event, ...fields })}\n`);
}

function createBrain(config: RunnerConfig, proxy: ProxyEndpoint): Brain {
  switch (config.provider) {
    case "demo":
      return createDemoBrain({ demoUrl: config.demo.url, apiKey: config.demo.apiKey });
    case "openai":
      return createOpenAiBrain({
        ...config.openai,
        agentName: config.agent,
        // Model calls take seconds as a matter of course, so no "waiting for approval" timer here;
        // responses can be long, hence the larger body limit.
        http: createHttpTool({ proxy, caPath: config.caPath, maxBodyBytes: 8 * 1024 * 1024 }),
      });
    case "claude":
      return createClaudeBrain({
        workspace: config.workspace,
        env: config.env,
        model: config.claude.model,
        agentName: config.agent,
      });
  }
}

async function main(): Promise<void> {
  const config = loadRunnerConfig(process.env);
  const proxy = parseProxyUrl(config.proxyUrl);

  let forwarder: Forwarder | undefined;
  if (!config.forwarder) {
    log("forwarder_skipped", { reason: "WARDEN_NO_FORWARDER=1" });
  } else if (config.k8s) {
    // Kubernetes token identity: TCP to the gateway, the projected token on every connection.
    forwarder = await startTokenForwarder({
      listen: { host: proxy.host, port: proxy.port },
      ...config.k8s,
      onError: (err) => log("forwarder_error", { error: err.message }),
    });
  } else if (!existsSync(config.socketPath)) {
    // Without the socket nothing can leave the container; keep running so the logs say why.
    log("forwarder_skipped", { reason: "gateway socket missing", socket: config.socketPath });
  } else {
    forwarder = await startForwarder({
      listen: { host: proxy.host, port: proxy.port },
      socketPath: config.socketPath,
      onError: (err) => log("forwarder_error", { error: err.message }),
    });
  }
  process.stdout.write(`${JSON.stringify({ event: "runner_ready" })}\n`);
  log("runner_started", {
    agent: config.agent,
    provider: config.provider,
    forwarder: forwarder !== undefined,
  });

  const stop = new AbortController();
  const shutdown = () => {
    stop.abort();
    void forwarder?.close();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);

  const mailbox = createMailboxClient({ proxy });
  const tools = createTools({ proxy, caPath: config.caPath, workspace: config.workspace, mailbox, log });
  await runLoop({ mailbox, brain: createBrain(config, proxy), tools, signal: stop.signal, log });
}

main().catch((err: unknown) => {
  log("runner_failed", { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
