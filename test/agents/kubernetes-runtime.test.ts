/**
 * The Kubernetes runtime against a real v1.20.2 apiserver + etcd + kubelet (test/support/kube-cluster.ts):
 * the shared Runtime contract, logs and exec in a real agent Pod (uid 1000, `lo` and eth0 on the test's Pod bridge with no route out, read-only root,
 * no capabilities, only the warden-gateway token), the RBAC refusal (no NetworkPolicy → the named
 * RuntimeUnavailable and no Pod), and the gateway's token identity on real TokenReviews: wrong audience
 * refused, another agent's token cannot act as this agent, a deleted Pod's token refused after the
 * cache window; and socket identity end to end (a real gateway, the agent manager, a demo agent Pod
 * using its hostPath socket, the real secret swapped in only at the gateway). With CI set a missing
 * cluster fails instead of skipping.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentImage } from "../../agents/image/build-image.js";
import {
  createKubernetesRuntime,
  type KubernetesRuntime,
} from "../../agents/kubernetes/kubernetes-runtime.js";
import { createTokenReviewer } from "../../agents/kubernetes/token-reviewer.js";
import { podName } from "../../agents/pod-spec.js";
import { gatewayPort } from "../../agents/gateway-port.js";
import { createAgentManager } from "../../agents/manager.js";
import { type AgentSpec, DEFAULT_LIMITS, RuntimeUnavailable } from "../../agents/runtime.js";
import { startGateway } from "../../gateway/index.js";
import { createTokenIdentity } from "../../gateway/token-review.js";
import { runtimeContract } from "../contracts/runtime.contract.js";
import { requireKube } from "../support/kube-binaries.js";
import { type KubeCluster, startKubeCluster } from "../support/kube-cluster.js";
import { REPO } from "./agent-world.js";

const skip = requireKube({ kubelet: true });
const NS = "warden-agents";
const GATEWAY = { host: "10.96.0.10", port: 8080 };
let cluster: KubeCluster;
let dir: string;
let image: string;
let runtime: KubernetesRuntime;
let instance: string;

async function specFor(name: string): Promise<AgentSpec> {
  const socketDir = join(dir, name, "run");
  await mkdir(socketDir, { recursive: true });
  await writeFile(
    join(socketDir, "ca.pem"),
    "-----BEGIN CERTIFICATE-----\nnot-secret\n-----END CERTIFICATE-----\n",
  );
  return {
    name,
    provider: "demo",
    image,
    socketDir,
    workspaceDir: join(dir, name, "ws"),
    env: { WARDEN_AGENT: name, WARDEN_PROVIDER: "demo", DEMO_API_KEY: "wdn_placeholder_only" },
    limits: DEFAULT_LIMITS,
  };
}

/** /proc/net/route's destination for x.y.z.0 (little-endian hex), from the bridge's x.y.z.1. */
function routeHex(gateway: string): string {
  const [a, b, c] = gateway.split(".").map(Number);
  return [0, c, b, a].map((n) => (n ?? 0).toString(16).padStart(2, "0").toUpperCase()).join("");
}

/** A kubeconfig for a ServiceAccount that may do everything the runtime needs except NetworkPolicies. */
async function limitedKubeconfig(ns: string): Promise<string> {
  const api = cluster.api;
  await cluster.createNamespace(ns);
  await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "limited" } });
  await api("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
    metadata: { name: "no-netpol" },
    rules: [
      {
        apiGroups: [""],
        resources: ["pods", "pods/log", "pods/exec", "serviceaccounts", "configmaps"],
        verbs: ["*"],
      },
      { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list"] },
    ],
  });
  await api("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    metadata: { name: "no-netpol" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "no-netpol" },
    subjects: [{ kind: "ServiceAccount", name: "limited", namespace: ns }],
  });
  const tr = await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/limited/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 3600 },
  });
  if (tr.status !== 201) throw new Error(`TokenRequest: ${tr.status}`);
  const path = join(dir, `${ns}.kubeconfig`);
  const ca = Buffer.from(cluster.caPem).toString("base64");
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: cluster.server, "certificate-authority-data": ca } }],
      users: [{ name: "u", user: { token: tr.body.status.token } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    }),
  );
  return path;
}

describe.skipIf(skip)(`KubernetesRuntime${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "wdn-k8s-rt-"));
    image = (await buildAgentImage({ repoRoot: REPO, runnerDir: join(REPO, "dist", "agents", "runner") }))
      .tag;
    cluster = await startKubeCluster({ kubelet: true });
    cluster.loadImage(image);
    instance = `k${randomBytes(3).toString("hex")}`;
    runtime = createKubernetesRuntime({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NS,
      gateway: GATEWAY,
      instance,
    });
  }, 600_000);

  afterAll(async () => {
    await runtime?.cleanupOrphans().catch(() => 0);
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 120_000);

  runtimeContract("kubernetes", async () => ({ runtime, spec: specFor }));

  describe("an agent Pod", () => {
    const sh = (script: string) => runtime.exec("iso", ["/bin/sh", "-c", script]);
    beforeAll(async () => {
      await runtime.start(await specFor("iso"));
    }, 180_000);
    afterAll(() => runtime.stop("iso"), 60_000);

    it("created the namespace, the ServiceAccount and both NetworkPolicies before the Pod", async () => {
      const policies = await cluster.api(
        "GET",
        `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      );
      expect(policies.body.items.map((p: { metadata: { name: string } }) => p.metadata.name).sort()).toEqual([
        "warden-agents-allow-gateway",
        "warden-agents-default-deny",
      ]);
      const sa = await cluster.api("GET", `/api/v1/namespaces/${NS}/serviceaccounts/warden-agent`);
      expect(sa.body.automountServiceAccountToken).toBe(false);
    });

    it("logs() returns the runner's ready line", async () => {
      expect(await runtime.logs("iso")).toContain('"runner_ready"');
    });

    it("exec() runs as uid 1000 with no capabilities, no new privileges, no route out and a read-only root", async () => {
      const r = await sh(
        "id -u; cat /proc/net/route; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; touch /x 2>&1; echo exit=$?",
      );
      expect(r.exitCode).toBe(0);
      expect(r.output).toMatch(/^1000\n/);
      // No default route (destination 00000000): only the Pod bridge's own /24 (kube-node.ts).
      expect(r.output).not.toMatch(/^\w+\t00000000\t/m);
      expect(r.output).toMatch(
        new RegExp(`^eth0\\t${routeHex(cluster.podGateway ?? "")}\\t00000000\\t`, "m"),
      );
      expect(r.output).toMatch(/CapEff:\s+0{16}/);
      expect(r.output).toMatch(/NoNewPrivs:\s+1/);
      expect(r.output).toMatch(/exit=1/);
      expect((await sh("exit 3")).exitCode).toBe(3);
    });

    it("holds no API token, only the projected warden-gateway one, and no secret in its env", async () => {
      const r = await sh(
        "ls /var/run/secrets/kubernetes.io 2>&1; node -e \"const t=require('fs').readFileSync('/var/run/secrets/warden/token','utf8');console.log(Buffer.from(t.split('.')[1],'base64url').toString());for(const [k,v] of Object.entries(process.env))console.log(k+'='+v)\"",
      );
      expect(r.output).toMatch(/No such file/);
      const claims = JSON.parse(r.output.split("\n")[1] as string);
      expect(claims.aud).toEqual(["warden-gateway"]);
      expect(r.output).toContain("WARDEN_K8S_GATEWAY=10.96.0.10:8080");
      expect(r.output).toContain("DEMO_API_KEY=wdn_placeholder_only");
    });
  });

  describe("token identity on real TokenReviews", () => {
    let identity: ReturnType<typeof createTokenIdentity>;
    const tokenOf = async (agent: string) =>
      (await runtime.exec(agent, ["/bin/sh", "-c", "cat /var/run/secrets/warden/token"])).output.trim();
    beforeAll(async () => {
      await Promise.all([runtime.start(await specFor("ta")), runtime.start(await specFor("tb"))]);
      identity = createTokenIdentity({
        review: createTokenReviewer({ kubeconfigPath: cluster.gatewayKubeconfigPath }),
        namespace: NS,
        agentOfPod: (name, uid) => runtime.agentOfPod(name, uid),
        cacheMs: 2_000,
      });
    }, 180_000);
    afterAll(() => Promise.all([runtime.stop("ta"), runtime.stop("tb")]), 60_000);

    it("maps each Pod's token to its agent, and never lets one act as the other", async () => {
      const [a, b] = [await tokenOf("ta"), await tokenOf("tb")];
      expect(await identity.agentOf(a)).toBe("ta");
      expect(await identity.authenticate("tb", b)).toBe(true);
      expect(await identity.authenticate("ta", b)).toBe(false);
    });

    it("refuses a token of the same Pod minted for another audience", async () => {
      const pod = await cluster.api("GET", `/api/v1/namespaces/${NS}/pods/${podName(instance, "ta")}`);
      const tr = await cluster.api("POST", `/api/v1/namespaces/${NS}/serviceaccounts/warden-agent/token`, {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: ["not-warden"],
          expirationSeconds: 3600,
          boundObjectRef: {
            apiVersion: "v1",
            kind: "Pod",
            name: pod.body.metadata.name,
            uid: pod.body.metadata.uid,
          },
        },
      });
      expect(tr.status).toBe(201);
      expect(await identity.agentOf(tr.body.status.token)).toBeUndefined();
    });

    it("refuses a deleted Pod's token once the cache window has passed", async () => {
      const token = await tokenOf("tb");
      expect(await identity.agentOf(token)).toBe("tb");
      await runtime.stop("tb");
      await new Promise((r) => setTimeout(r, 2_100));
      expect(await identity.agentOf(token)).toBeUndefined();
    }, 90_000);
  });

  it("socket identity: a demo agent Pod reaches a real gateway through its hostPath socket, secret swapped in there", async () => {
    const REAL = `real-k8s-secret-${randomBytes(6).toString("hex")}`;
    const seen: (string | undefined)[] = [];
    const upstream = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end("upstream-ok");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    const home = join(dir, "sock-home");
    await mkdir(join(home, "policies"), { recursive: true });
    await writeFile(
      join(home, "policies", "up.yaml"),
      "hosts: [up.test]\nsecrets:\n  UP_TOKEN: {}\nrules:\n  - name: all\n    action: allow\n",
    );
    const gw = await startGateway({
      home,
      policiesDir: join(home, "policies"),
      listen: { host: "127.0.0.1", port: 0 },
      control: { host: "127.0.0.1", port: 0 },
      resolve: new Map([["up.test", { host: "127.0.0.1", port: (upstream.address() as AddressInfo).port }]]),
      masterKey: randomBytes(32).toString("hex"),
      log: () => undefined,
      drainMs: 500,
    });
    const socketRuntime = createKubernetesRuntime({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NS,
      identity: "socket",
      instance: "sock",
    });
    const manager = createAgentManager({
      runtime: socketRuntime,
      gateway: await gatewayPort(gw),
      dir: join(home, "agents"),
      image,
    });
    try {
      await gw.credentials.setSecret("UP_TOKEN", REAL);
      await manager.start("sk", { provider: "demo" });
      const r = await socketRuntime.exec("sk", [
        "/bin/sh",
        "-c",
        'curl -s --max-time 10 -H "Authorization: Bearer $UP_TOKEN" http://up.test/hello; echo; echo "$UP_TOKEN"',
      ]);
      expect(r.output).toContain("upstream-ok");
      expect(seen.at(-1)).toBe(`Bearer ${REAL}`);
      expect(r.output).toMatch(/wdn_/);
      expect(r.output).not.toContain(REAL);
    } finally {
      await manager.stopAll();
      await gw.close();
      upstream.close();
    }
  }, 180_000);

  it("refuses with RuntimeUnavailable naming the NetworkPolicy, and creates no Pod, without RBAC for it", async () => {
    const ns = "warden-limited";
    const limited = createKubernetesRuntime({
      kubeconfigPath: await limitedKubeconfig(ns),
      namespace: ns,
      gateway: GATEWAY,
      instance: "lim",
    });
    const err = await limited.start(await specFor("nopol")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeUnavailable);
    expect(err).toMatchObject({ code: "runtime_unavailable", status: 503 });
    expect((err as RuntimeUnavailable).resource).toBe(`NetworkPolicy ${ns}/warden-agents-default-deny`);
    expect((err as Error).message).toMatch(
      /cannot create NetworkPolicy warden-limited\/warden-agents-default-deny \(HTTP 403/,
    );
    const pods = await cluster.api("GET", `/api/v1/namespaces/${ns}/pods`);
    expect(pods.body.items).toEqual([]);
  }, 60_000);
});
