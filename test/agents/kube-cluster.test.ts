/**
 * Smoke test of the real Kubernetes test cluster (test/support/kube-cluster.ts) through
 * @kubernetes/client-node, the library the Pod runtime uses: a Pod from a locally built FROM-scratch
 * image reaches Running on the real kubelet, and the gateway's TokenReview accepts the kubelet-mounted
 * projected token only for the `warden-gateway` audience. The gateway identity can review tokens and
 * nothing else. With CI set, a missing cluster fails this file instead of skipping it.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AuthenticationV1Api, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KUBE_VERSION, kubeBinaries, requireKube } from "../support/kube-binaries.js";
import { GATEWAY_AUDIENCE, type KubeCluster, startKubeCluster } from "../support/kube-cluster.js";
import { importStaticImage } from "../support/kube-node.js";

const skip = requireKube({ kubelet: true });
const NS = "warden-smoke";
// Unique per run: a parallel run of this file must not remove the image this one is loading.
const IMAGE = `warden-test/kube-sleeper:${randomBytes(4).toString("hex")}`;

/** A Pod as Warden's runtime shapes agents (DESIGN §8), plus a token for a foreign audience. */
function smokePod(): V1Pod {
  const token = (audience: string) => ({
    projected: { sources: [{ serviceAccountToken: { audience, expirationSeconds: 3600, path: "token" } }] },
  });
  return {
    metadata: { name: "smoke", labels: { "warden.agent": "smoke" } },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: "Never",
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
      containers: [
        {
          name: "main",
          image: IMAGE,
          imagePullPolicy: "Never",
          securityContext: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
          },
          volumeMounts: [
            { name: "gateway-token", mountPath: "/run/warden-token", readOnly: true },
            { name: "other-token", mountPath: "/run/other-token", readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: "gateway-token", ...token(GATEWAY_AUDIENCE) },
        { name: "other-token", ...token("not-warden") },
      ],
    },
  };
}

const SYSCTLS = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops"];
const sysctls = () => SYSCTLS.map((k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`);
/** Kubernetes chains in the machine's iptables (none expected); empty when iptables is absent. */
function kubeChains(): string[] {
  try {
    return execFileSync("iptables-save", { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes("KUBE-"));
  } catch {
    return [];
  }
}

describe("requireKube()", () => {
  it("fails under CI when the binaries are missing, and gives a skip reason otherwise", () => {
    const saved = { cache: process.env.WARDEN_KUBE_CACHE, ci: process.env.CI };
    try {
      process.env.WARDEN_KUBE_CACHE = "/nonexistent/warden-kube-cache";
      process.env.CI = "1";
      expect(() => requireKube()).toThrow(/CI must run these tests/);
      delete process.env.CI;
      expect(requireKube()).toMatch(/kube-apiserver, kubelet, pause not in \/nonexistent/);
    } finally {
      for (const [k, v] of [
        ["WARDEN_KUBE_CACHE", saved.cache],
        ["CI", saved.ci],
      ] as const)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip)(
  `a real Kubernetes ${KUBE_VERSION} test cluster${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let cluster: KubeCluster | undefined;
    let core: CoreV1Api;
    let gatewayAuth: AuthenticationV1Api;
    let podUid = "";
    const before = { sysctls: sysctls(), chains: kubeChains() };

    beforeAll(async () => {
      cluster = await startKubeCluster({ kubelet: true });
      console.log(
        `kube-cluster: apiserver ready ${cluster.timings.apiserverReadyMs} ms, node Ready ${cluster.timings.nodeReadyMs} ms`,
      );
      const admin = new KubeConfig();
      admin.loadFromFile(cluster.kubeconfigPath);
      core = admin.makeApiClient(CoreV1Api);
      const gateway = new KubeConfig();
      gateway.loadFromFile(cluster.gatewayKubeconfigPath);
      gatewayAuth = gateway.makeApiClient(AuthenticationV1Api);
    }, 180_000);

    afterAll(async () => {
      await cluster?.stop();
      try {
        execFileSync("docker", ["rmi", "-f", IMAGE], { stdio: "ignore" });
      } catch {
        // never built
      }
    }, 90_000);

    it("runs a Pod from a locally built FROM-scratch image on the real kubelet", async () => {
      const c = cluster as KubeCluster;
      const bins = kubeBinaries();
      if ("missing" in bins) throw new Error(bins.missing);
      // Built on the main engine, then copied into the kubelet's private dockerd: the path K2's agent image takes.
      importStaticImage(undefined, bins.pause, IMAGE, "1000");
      c.loadImage(IMAGE);
      await c.createNamespace(NS);
      const t0 = Date.now();
      const created = await core.createNamespacedPod({ namespace: NS, body: smokePod() });
      podUid = created.metadata?.uid ?? "";
      let pod: V1Pod = created;
      while ((pod.status?.phase ?? "Pending") === "Pending" && Date.now() - t0 < 60_000) {
        await new Promise((r) => setTimeout(r, 200));
        pod = await core.readNamespacedPod({ name: "smoke", namespace: NS });
      }
      console.log(`kube-cluster: Pod ${pod.status?.phase} ${Date.now() - t0} ms after create`);
      // With the loopback-only CNI the sandbox has no address, and kubelet 1.20 replaces such a
      // sandbox at its next sync: on a loaded machine a poll can see the Pod only after it ended.
      // What this checks is that it ran: Running, or ended after its container had started.
      const started = pod.status?.containerStatuses?.[0]?.state;
      expect(
        pod.status?.phase === "Running" ||
          started?.running !== undefined ||
          started?.terminated?.startedAt !== undefined,
        c.logTail("kubelet", 30),
      ).toBe(true);
      expect(pod.spec?.nodeName).toBe("localhost");
      // apiserver → kubelet (logs, exec) reaches the node by its hostname `localhost` on the kubelet's port.
      const logs = await c.api("GET", `/api/v1/namespaces/${NS}/pods/smoke/log`);
      expect(logs.status, JSON.stringify(logs.body)).toBe(200);
      // The Pod's containers live in the node's private engine only; the machine's own engine never sees them.
      const ids = (host?: string) =>
        execFileSync(
          "docker",
          [...(host ? ["-H", host] : []), "ps", "-aq", "--filter", "label=io.kubernetes.pod.name=smoke"],
          {
            encoding: "utf8",
          },
        ).trim();
      expect(ids(c.dockerHost)).not.toBe("");
      expect(ids()).toBe("");
    }, 90_000);

    it("TokenReview as warden-gateway authenticates the projected warden-gateway token, bound to the Pod", async () => {
      const c = cluster as KubeCluster;
      const file = join(
        c.kubeletDir as string,
        "pods",
        podUid,
        "volumes/kubernetes.io~projected/gateway-token/token",
      );
      const token = readFileSync(file, "utf8");
      const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());
      expect(claims.aud).toEqual([GATEWAY_AUDIENCE]);
      const review = await gatewayAuth.createTokenReview({
        body: { spec: { token, audiences: [GATEWAY_AUDIENCE] } },
      });
      expect(review.status?.authenticated).toBe(true);
      expect(review.status?.audiences).toEqual([GATEWAY_AUDIENCE]);
      expect(review.status?.user?.username).toBe(`system:serviceaccount:${NS}:default`);
      expect(review.status?.user?.extra?.["authentication.kubernetes.io/pod-name"]).toEqual(["smoke"]);
      expect(review.status?.user?.extra?.["authentication.kubernetes.io/pod-uid"]).toEqual([podUid]);
      // The same token presented for another audience is refused: the gateway must always name its own.
      const elsewhere = await gatewayAuth.createTokenReview({
        body: { spec: { token, audiences: ["not-warden"] } },
      });
      expect(elsewhere.status?.authenticated).not.toBe(true);
    });

    it("TokenReview refuses a projected token minted for another audience", async () => {
      const c = cluster as KubeCluster;
      const file = join(
        c.kubeletDir as string,
        "pods",
        podUid,
        "volumes/kubernetes.io~projected/other-token/token",
      );
      const token = readFileSync(file, "utf8");
      const review = await gatewayAuth.createTokenReview({
        body: { spec: { token, audiences: [GATEWAY_AUDIENCE] } },
      });
      expect(review.status?.authenticated).not.toBe(true);
      expect(review.status?.user?.username ?? "").toBe("");
    });

    it("the warden-gateway identity may review tokens but not read Pods, Secrets or mint tokens", async () => {
      const c = cluster as KubeCluster;
      for (const path of [
        `/api/v1/namespaces/${NS}/pods`,
        `/api/v1/namespaces/${NS}/secrets`,
        "/api/v1/nodes",
      ]) {
        expect((await c.api("GET", path, undefined, c.gatewayToken)).status, path).toBe(403);
      }
      const mint = await c.api(
        "POST",
        `/api/v1/namespaces/${NS}/serviceaccounts/default/token`,
        { spec: { audiences: [GATEWAY_AUDIENCE] } },
        c.gatewayToken,
      );
      expect(mint.status).toBe(403);
    });

    it("leaves the machine's kernel settings and iptables as they were (kubelet in its own mount namespace)", () => {
      expect(sysctls()).toEqual(before.sysctls);
      expect(kubeChains()).toEqual(before.chains);
    });

    it("stop() ends every process it started and removes its scratch dir (no mount left behind)", async () => {
      const c = cluster as KubeCluster;
      const pids = c.pids();
      expect(pids.length).toBe(4);
      await c.stop();
      for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
      expect(existsSync(c.dir)).toBe(false);
      expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(c.dir);
    }, 90_000);
  },
);
