/**
 * deploy/kubernetes/ against a real v1.20.2 API server: `kubectl apply --dry-run=server` of the whole
 * directory must pass validation and admission, and the manifests keep the promises of DESIGN §8
 * (no Secret values, agents' token not mounted, the runtime's RBAC limited to the agents' namespace
 * and to no Secrets, no `create namespaces`, TokenReview through a role granting only that). With CI set, a missing cluster or
 * kubectl fails instead of skipping.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { requireKube, which } from "../support/kube-binaries.js";
import { type KubeCluster, startKubeCluster } from "../support/kube-cluster.js";

const DIR = join(import.meta.dirname, "..", "..", "deploy", "kubernetes");
const kubectl = which("kubectl");
const skip =
  requireKube() ??
  (kubectl ? undefined : process.env.CI ? "" : "kubectl not installed (apt-get install kubernetes-client)");
if (skip === "") throw new Error("kubectl not installed; CI must run the manifest test");

// biome-ignore lint/suspicious/noExplicitAny: manifests are arbitrary Kubernetes objects.
type Obj = any;
const objects: Obj[] = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .flatMap((f) => parseAllDocuments(readFileSync(join(DIR, f), "utf8")).map((d) => d.toJS() as Obj));
const find = (kind: string, name: string): Obj =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

describe("deploy/kubernetes manifests", () => {
  it("hold no Secret and no secret value: the Deployment reads both from a Secret the operator creates", () => {
    expect(objects.filter((o) => o.kind === "Secret")).toEqual([]);
    const env = find("Deployment", "warden").spec.template.spec.containers[0].env as Obj[];
    const byName = Object.fromEntries(env.map((e) => [e.name, e]));
    expect(byName.WARDEN_DATABASE_URL.valueFrom.secretKeyRef).toEqual({
      name: "warden",
      key: "database-url",
    });
    expect(byName.WARDEN_MASTER_KEY.valueFrom.secretKeyRef).toEqual({ name: "warden", key: "master-key" });
    expect(byName.WARDEN_RUNTIME.value).toBe("kubernetes");
    expect(find("Deployment", "warden").spec.replicas).toBeGreaterThan(1);
  });

  it("give agents a ServiceAccount with no API token and the runtime no access to Secrets", () => {
    expect(find("ServiceAccount", "warden-agent").automountServiceAccountToken).toBe(false);
    const role = find("Role", "warden-runtime");
    expect(role.metadata.namespace).toBe("warden-agents");
    expect(JSON.stringify(objects.filter((o) => /Role$/.test(o.kind)))).not.toMatch(/secrets|"\*"/);
    expect(find("ClusterRoleBinding", "warden-tokenreview").roleRef.name).toBe("warden-tokenreview");
    expect(find("ClusterRole", "warden-tokenreview").rules).toEqual([
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
    ]);
    // `create namespaces` cannot be limited by name: 00-namespaces.yaml makes warden-agents instead.
    const clusterRules = objects.filter((o) => o.kind === "ClusterRole").flatMap((o) => o.rules as Obj[]);
    for (const r of clusterRules.filter((r) => r.resources.includes("namespaces"))) {
      expect(r.verbs).toEqual(["get"]);
      expect(r.resourceNames).toEqual(["warden-agents"]);
    }
    expect(find("Namespace", "warden-agents")).toBeDefined();
  });

  it("carry the agents' NetworkPolicies with the names the runtime ensures", () => {
    expect(find("NetworkPolicy", "warden-agents-default-deny").spec).toMatchObject({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
    });
    expect(find("NetworkPolicy", "warden-agents-allow-gateway").spec.egress[0].ports).toEqual([
      { protocol: "TCP", port: 7480 },
    ]);
  });
});

describe.skipIf(skip)(`deploy/kubernetes on a real API server${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let cluster: KubeCluster | undefined;
  let work = "";
  const run = (...args: string[]) =>
    execFileSync(kubectl as string, ["--kubeconfig", cluster?.kubeconfigPath as string, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 120_000,
    });

  beforeAll(async () => {
    cluster = await startKubeCluster();
    work = mkdtempSync(join(tmpdir(), "wdn-manifests-"));
    cpSync(DIR, work, { recursive: true });
    // policy/v1 PodDisruptionBudget is GA from 1.21; the 1.20 test server only serves v1beta1.
    if (!run("api-versions").split("\n").includes("policy/v1")) {
      const pdb = join(work, "60-poddisruptionbudget.yaml");
      writeFileSync(
        pdb,
        readFileSync(pdb, "utf8").replace("apiVersion: policy/v1\n", "apiVersion: policy/v1beta1\n"),
      );
    }
    // A server-side dry run cannot see namespaces created in the same dry run: create those for real.
    run("apply", "-f", join(work, "00-namespaces.yaml"));
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it("kubectl apply --dry-run=server accepts every object", () => {
    let out = "";
    try {
      out = run("apply", "--dry-run=server", "-f", work);
    } catch (err) {
      throw new Error(`kubectl apply failed:\n${(err as { stderr?: string }).stderr ?? err}`);
    }
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(objects.length);
    for (const line of lines) expect(line).toMatch(/(created|configured|unchanged) \(server dry run\)$/);
  });
});
