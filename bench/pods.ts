/**
 * Agent Pod figures for `npm run bench`, beside the Docker container figure (bench/agents.ts): cold
 * start of a demo agent Pod to ready (median of 5, image already on the node), with the real
 * Kubernetes runtime, the agent manager and a gateway with token identity listening on the Pod
 * bridge, on the throwaway v1.20.2 cluster the tests use (test/support/kube-cluster.ts: etcd,
 * kube-apiserver and a kubelet on a private dockerd). Skipped, with the reason, when the Kubernetes
 * binaries are not built (scripts/kube-binaries.sh) or no Docker engine answers.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKubernetesRuntime } from "../agents/kubernetes/kubernetes-runtime.js";
import { createTokenReviewer } from "../agents/kubernetes/token-reviewer.js";
import { gatewayPort } from "../agents/gateway-port.js";
import { buildAgentImage } from "../agents/image/build-image.js";
import { createAgentManager } from "../agents/manager.js";
import { startGateway } from "../gateway/index.js";
import { createTokenIdentity } from "../gateway/token-review.js";
import { requireKube } from "../test/support/kube-binaries.js";
import { startKubeCluster } from "../test/support/kube-cluster.js";
import { freePort } from "../test/support/kube-procs.js";
import { median } from "./agents.js";

const NS = "warden-bench";

/** Report lines; `dockerMs` (bench/agents.ts's median) puts the ratio beside it. */
export async function benchPods(repoRoot: string, dockerMs?: number, runs = 5): Promise<string[]> {
  const missing = requireKube({ kubelet: true });
  if (missing) return [`agent Pods: skipped (${missing})`];
  process.stderr.write("bench: starting a Kubernetes v1.20.2 node for the Pod figures…\n");
  const cluster = await startKubeCluster({ kubelet: true });
  const home = await mkdtemp(join(tmpdir(), "wdn-bench-pods-"));
  const instance = `p${randomBytes(3).toString("hex")}`;
  // The gateway listens on the Pod bridge, where the Pods are told to go (WARDEN_K8S_GATEWAY).
  const at = { host: cluster.podGateway ?? "", port: await freePort(cluster.podGateway) };
  const runtime = createKubernetesRuntime({
    kubeconfigPath: cluster.kubeconfigPath,
    namespace: NS,
    instance,
    gateway: at,
  });
  let closeGateway: (() => Promise<void>) | undefined;
  try {
    const image = await buildAgentImage({ repoRoot, runnerDir: join(repoRoot, "dist", "agents", "runner") });
    cluster.loadImage(image.tag);
    await mkdir(join(home, "policies"));
    await writeFile(join(home, "policies", "none.yaml"), "hosts: [none.test]\nrules: []\n");
    const gateway = await startGateway({
      home,
      policiesDir: join(home, "policies"),
      listen: at,
      control: { host: "127.0.0.1", port: 0 },
      masterKey: randomBytes(32).toString("hex"),
      log: () => undefined,
      tokenIdentity: createTokenIdentity({
        review: createTokenReviewer({ kubeconfigPath: cluster.gatewayKubeconfigPath }),
        namespace: NS,
        agentOfPod: (name, uid) => runtime.agentOfPod(name, uid),
      }),
    });
    closeGateway = () => gateway.close();
    const manager = createAgentManager({
      runtime,
      gateway: await gatewayPort(gateway),
      dir: join(home, "agents"),
      image: image.tag,
      idleStopMs: 0,
    });
    const starts: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await manager.start(`pod${i}`, { provider: "demo" });
      starts.push(performance.now() - t);
      process.stderr.write(`bench: Pod cold start ${i + 1}/${runs}: ${Math.round(starts.at(-1) ?? 0)} ms\n`);
      await manager.stop(`pod${i}`);
    }
    const m = median(starts);
    const beside = dockerMs
      ? ` (×${(m / dockerMs).toFixed(1)} the Docker container's ${Math.round(dockerMs)} ms)`
      : "";
    return [
      `agent Pod cold start to ready (demo provider, token identity, image on the node): median ${Math.round(m)} ms of ${runs} (min ${Math.round(Math.min(...starts))}, max ${Math.round(Math.max(...starts))})${beside}`,
    ];
  } catch (err) {
    return [`agent Pods: failed (${(err as Error).message.split("\n")[0]})`];
  } finally {
    await runtime.cleanupOrphans().catch(() => 0);
    await closeGateway?.();
    await cluster.stop();
    await rm(home, { recursive: true, force: true });
  }
}
