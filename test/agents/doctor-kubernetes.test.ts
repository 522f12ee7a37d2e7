/**
 * `warden doctor`'s Kubernetes check against a real v1.20.2 kube-apiserver + etcd (no kubelet:
 * test/support/kube-cluster.ts): the admin identity with the namespace in place passes; a
 * ServiceAccount without NetworkPolicy create fails naming exactly that (exit 1 through
 * doctorCommand); a missing namespace the identity may not create is named; an absent, a broken and
 * a refused kubeconfig fail without a crash; no bearer token or kubeconfig content ever reaches the
 * output. With CI set a missing cluster fails instead of skipping.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatSettings } from "../../cli/chat-settings.js";
import type { Check } from "../../cli/doctor-checks.js";
import { doctorCommand } from "../../cli/doctor.js";
import { checkKubernetes } from "../../cli/doctor-kubernetes.js";
import type { KubernetesSettings } from "../../cli/start.js";
import { requireKube } from "../support/kube-binaries.js";
import { type KubeCluster, startKubeCluster } from "../support/kube-cluster.js";
import { REPO } from "./agent-world.js";

const skip = requireKube();
const NS = "warden-agents";
const LIMITED_NS = "doctor-limited";
const GATEWAY = { host: "10.96.0.10", port: 8080 };
const IMAGE = "registry.example/warden-agent:1";
let cluster: KubeCluster;
let dir: string;
let limitedToken = "";
/** Every line any test printed, checked for secrets at the end. */
const printed: string[] = [];

const lines = (checks: readonly Check[]) =>
  checks.map((c) => `${c.status} ${c.item}: ${c.message}${c.fix ? ` → ${c.fix}` : ""}`);
const fails = (checks: readonly Check[]) => checks.filter((c) => c.status === "fail");

async function check(settings: KubernetesSettings): Promise<Check[]> {
  const checks = await checkKubernetes(settings, { timeoutMs: 30_000 });
  printed.push(...lines(checks));
  return checks;
}

/** The whole `warden doctor` run with these settings; Docker pointed at nothing (a warning on Kubernetes). */
async function doctor(kubernetes: KubernetesSettings): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await doctorCommand(
    ["--web", "127.0.0.1:0", "--control", "127.0.0.1:0", "--listen", "127.0.0.1:0"],
    {
      home: join(dir, "home"),
      repoRoot: REPO,
      chat: chatSettings({ WARDEN_WEBHOOKS: "127.0.0.1:0" }),
      masterKeyFromEnv: false,
      dockerHost: `unix://${join(dir, "no-docker.sock")}`,
      kubernetes,
      write: (t) => {
        out += t;
      },
    },
  );
  printed.push(out);
  return { code, out };
}

/**
 * A kubeconfig for a ServiceAccount that may do everything the runtime needs in LIMITED_NS except
 * create or update NetworkPolicies, may read namespaces (not create them), and has no TokenReview.
 */
async function limitedKubeconfig(): Promise<string> {
  const api = cluster.api;
  const ns = LIMITED_NS;
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
  await api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    metadata: { name: "doctor-read-namespaces" },
    rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get"] }],
  });
  await api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: "doctor-read-namespaces" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "doctor-read-namespaces" },
    subjects: [{ kind: "ServiceAccount", name: "limited", namespace: ns }],
  });
  const tr = await api("POST", `/api/v1/namespaces/${ns}/serviceaccounts/limited/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 3600 },
  });
  if (tr.status !== 201) throw new Error(`TokenRequest: ${tr.status}`);
  limitedToken = tr.body.status.token;
  return writeKubeconfig("limited.kubeconfig", limitedToken);
}

async function writeKubeconfig(name: string, token: string): Promise<string> {
  const path = join(dir, name);
  const ca = Buffer.from(cluster.caPem).toString("base64");
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: cluster.server, "certificate-authority-data": ca } }],
      users: [{ name: "u", user: { token } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      "current-context": "c",
    }),
  );
  return path;
}

describe("doctor: the agents' runtime", () => {
  it("on Docker: one ok line, nothing asked of a cluster", async () => {
    expect(lines(await checkKubernetes(undefined))).toEqual(["ok runtime: agents run on Docker"]);
  });
});

describe.skipIf(skip)(
  `doctor: Kubernetes against a real API server${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    let limited: string;
    const admin = (over: Partial<KubernetesSettings> = {}): KubernetesSettings => ({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NS,
      identity: "token",
      gateway: GATEWAY,
      image: IMAGE,
      ...over,
    });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "wdn-doctor-k8s-"));
      cluster = await startKubeCluster();
      await cluster.createNamespace(NS);
      limited = await limitedKubeconfig();
    }, 180_000);

    afterAll(async () => {
      await cluster?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, 90_000);

    it("admin kubeconfig, namespace in place, image and gateway set: no failure, exit 0", async () => {
      const checks = await check(admin());
      expect(fails(checks), lines(checks).join("\n")).toEqual([]);
      const text = lines(checks).join("\n");
      expect(text).toContain(
        `ok kubernetes: kubeconfig ${cluster.kubeconfigPath} loaded (API server ${cluster.server})`,
      );
      expect(text).toMatch(/ok kubernetes: API server https:\/\/127\.0\.0\.1:\d+ answers \(v1\.20\.2\)/);
      expect(text).toContain(`ok kubernetes: namespace ${NS} exists`);
      expect(text).toContain(`ok kubernetes: this identity may do all 14 things the runtime needs in ${NS}`);
      // Enforcement is the network plugin's: always said, never claimed.
      expect(text).toMatch(/warn kubernetes: Warden cannot tell whether .* enforces NetworkPolicies/);
      const run = await doctor(admin());
      expect(run.out).toMatch(/^warn {2}docker: no Docker engine answers at .*agents run on Kubernetes/m);
      expect(run.out).not.toMatch(/^FAIL/m);
      expect(run.code, run.out).toBe(0);
    });

    it("a ServiceAccount that may not create NetworkPolicies: FAIL naming it, exit 1", async () => {
      const settings = { ...admin(), kubeconfigPath: limited, namespace: LIMITED_NS };
      const checks = await check(settings);
      expect(fails(checks).map((c) => c.message)).toEqual([
        `may not create networkpolicies.networking.k8s.io in ${LIMITED_NS}`,
        `may not update networkpolicies.networking.k8s.io in ${LIMITED_NS}`,
        "may not create tokenreviews.authentication.k8s.io cluster-wide (the gateway's TokenReview, token identity)",
      ]);
      expect(fails(checks)[0]?.fix).toContain("deploy/kubernetes/20-rbac.yaml");
      // Socket identity needs no TokenReview (nor the CA ConfigMap).
      const socket = await check({ ...settings, identity: "socket" });
      expect(fails(socket).map((c) => c.message)).toEqual([
        `may not create networkpolicies.networking.k8s.io in ${LIMITED_NS}`,
        `may not update networkpolicies.networking.k8s.io in ${LIMITED_NS}`,
      ]);
      const run = await doctor(settings);
      expect(run.out).toContain(
        `FAIL  kubernetes: may not create networkpolicies.networking.k8s.io in ${LIMITED_NS}`,
      );
      expect(run.code, run.out).toBe(1);
    });

    it("a missing namespace this identity may not create is named; one the admin may create is not a failure", async () => {
      const checks = await check({ ...admin(), kubeconfigPath: limited, namespace: "nowhere-ns" });
      const text = fails(checks).map((c) => `${c.message} → ${c.fix}`);
      expect(text[0]).toBe(
        "namespace nowhere-ns does not exist and this identity may not create it → kubectl create namespace nowhere-ns (or apply deploy/kubernetes/00-namespaces.yaml), or set WARDEN_K8S_NAMESPACE",
      );
      // Nothing is granted in a namespace that does not exist: one line for all of it, not fourteen.
      expect(text[1]).toMatch(/^may do none of what the runtime needs in nowhere-ns: create pods, get pods,/);
      const byAdmin = await check(admin({ namespace: "later-ns" }));
      expect(fails(byAdmin)).toEqual([]);
      expect(lines(byAdmin)).toContain(
        "ok kubernetes: namespace later-ns does not exist yet; the first agent creates it",
      );
    });

    it("a kubeconfig that does not exist, or does not parse: FAIL without a crash or its content", async () => {
      const absent = join(dir, "absent.kubeconfig");
      const [first, ...rest] = await check(admin({ kubeconfigPath: absent }));
      expect(first).toMatchObject({ status: "fail", message: `cannot load kubeconfig ${absent} (ENOENT)` });
      // Without credentials nothing more is asked; the settings lines still come.
      expect(rest.map((c) => c.message).join("\n")).not.toMatch(/API server|namespace/);
      const broken = join(dir, "broken.kubeconfig");
      await writeFile(broken, `users:\n- user:\n    token: ${limitedToken}\n  : : [unclosed\n`);
      const [parse] = await check(admin({ kubeconfigPath: broken }));
      expect(parse).toMatchObject({
        status: "fail",
        message: `cannot load kubeconfig ${broken} (not a valid kubeconfig)`,
      });
      const run = await doctor(admin({ kubeconfigPath: absent }));
      expect(run.code, run.out).toBe(1);
    });

    it("credentials the API server refuses: FAIL naming the 401, not the token", async () => {
      const wrong = await writeKubeconfig("wrong.kubeconfig", "wrong-token-abcdef0123456789");
      const checks = await check(admin({ kubeconfigPath: wrong }));
      expect(fails(checks)[0]).toMatchObject({
        message: `API server ${cluster.server} not usable (HTTP 401)`,
      });
      expect(lines(checks).join("\n")).not.toContain("wrong-token-abcdef0123456789");
    });

    it("missing WARDEN_AGENT_IMAGE and WARDEN_K8S_GATEWAY (token identity) are failures", async () => {
      const checks = await check(admin({ image: undefined, gateway: undefined }));
      expect(fails(checks).map((c) => c.message)).toEqual([
        "WARDEN_AGENT_IMAGE is not set; Pods need an image the cluster can pull",
        "WARDEN_K8S_GATEWAY is not set; token identity needs where Pods reach this gateway",
      ]);
      expect(fails(await check(admin({ identity: "socket", gateway: undefined })))).toEqual([]);
    });

    it("no bearer token and no kubeconfig content in anything printed", () => {
      const all = printed.join("\n");
      expect(all.length).toBeGreaterThan(1000);
      expect(limitedToken.length).toBeGreaterThan(100);
      for (const secret of [
        limitedToken,
        cluster.adminToken,
        cluster.gatewayToken,
        "wrong-token-abcdef0123456789",
      ])
        expect(all).not.toContain(secret);
      expect(all).not.toContain(Buffer.from(cluster.caPem).toString("base64").slice(0, 40));
      expect(all).not.toContain("certificate-authority-data");
    });
  },
);
