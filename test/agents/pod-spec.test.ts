/**
 * podSpec() and agentNetworkPolicies() field by field (DESIGN §8), and the leak test: a real secret
 * set in a real gateway's vault reaches the agent manager only as a placeholder, and appears nowhere
 * in the serialized Pod, its env, the NetworkPolicies or the CA ConfigMap.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gatewayPort } from "../../agents/gateway-port.js";
import { createAgentManager } from "../../agents/manager.js";
import {
  agentLabel,
  agentNetworkPolicies,
  caConfigMap,
  DEFAULT_GATEWAY_PEER,
  GATEWAY_AUDIENCE,
  hostPortString,
  podAgent,
  podName,
  podSpec,
} from "../../agents/pod-spec.js";
import { loadRunnerConfig } from "../../agents/runner/config.js";
import type { AgentSpec } from "../../agents/runtime.js";
import { startGateway } from "../../gateway/index.js";
import { createFakeRuntime } from "../fakes/fake-runtime.js";

const spec: AgentSpec = {
  name: "a1",
  provider: "demo",
  image: "reg.example/warden-agent:1",
  socketDir: "/home/w/agents/a1/run",
  workspaceDir: "/home/w/agents/a1/workspace",
  env: { HTTPS_PROXY: "http://127.0.0.1:3128", UP_TOKEN: "wdn_placeholder", WARDEN_K8S_GATEWAY: "evil:1" },
  limits: { memoryMb: 256, cpus: 0.5, pids: 64 },
};
const token = { instance: "i1", namespace: "warden-agents", identity: "token" as const };
const gateway = { host: "10.0.0.7", port: 8080 };

describe("podSpec() in token identity", () => {
  const pod = podSpec(spec, { ...token, gateway });
  const p = pod.spec as NonNullable<typeof pod.spec>;
  const c = p.containers[0] as (typeof p.containers)[number];

  it("names and labels the Pod after the agent and the instance", () => {
    expect(pod.metadata).toMatchObject({
      name: "warden-i1-a1",
      namespace: "warden-agents",
      labels: { "warden.agent": "a1", "warden.instance": "i1", "warden.provider": "demo" },
      annotations: { "warden.agent": "a1", "warden.identity": "token" },
    });
  });

  it("shares nothing with the host and mounts no API token; restarts are Warden's", () => {
    expect(p).toMatchObject({
      serviceAccountName: "warden-agent",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: "Never",
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
    });
    expect(p.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      fsGroup: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(p.containers).toHaveLength(1);
    expect(p.initContainers).toBeUndefined();
  });

  it("runs the runner non-root, read-only, without capabilities or escalation, with limits", () => {
    expect(c).toMatchObject({ image: spec.image, imagePullPolicy: "IfNotPresent", workingDir: "/workspace" });
    expect(c.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      privileged: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // No pids: Kubernetes v1.20 limits them per node (podPidsLimit), not per Pod.
    expect(c.resources).toEqual({
      limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "2Gi" },
      requests: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "2Gi" },
    });
  });

  it("has a workspace, a memory /tmp, the CA bundle and ONE token, for the gateway's audience only", () => {
    expect(c.volumeMounts).toEqual([
      { name: "workspace", mountPath: "/workspace" },
      { name: "tmp", mountPath: "/tmp" },
      { name: "warden-ca", mountPath: "/run/warden", readOnly: true },
      { name: "gateway-token", mountPath: "/var/run/secrets/warden", readOnly: true },
    ]);
    expect(p.volumes).toEqual([
      { name: "workspace", emptyDir: { sizeLimit: "1Gi" } },
      { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
      { name: "warden-ca", configMap: { name: "warden-ca-i1" } },
      {
        name: "gateway-token",
        projected: {
          sources: [
            { serviceAccountToken: { audience: GATEWAY_AUDIENCE, expirationSeconds: 3600, path: "token" } },
          ],
        },
      },
    ]);
    const json = JSON.stringify(pod);
    expect(json.match(/serviceAccountToken/g)).toHaveLength(1);
    expect(json).not.toMatch(/hostPath|secretKeyRef|"secret"|envFrom|configMapKeyRef/);
  });

  it("env = the spec's env plus the gateway endpoint and token path, which the spec cannot override", () => {
    expect(c.env).toEqual([
      { name: "HTTPS_PROXY", value: "http://127.0.0.1:3128" },
      { name: "UP_TOKEN", value: "wdn_placeholder" },
      { name: "WARDEN_K8S_GATEWAY", value: "10.0.0.7:8080" },
      { name: "WARDEN_K8S_TOKEN_FILE", value: "/var/run/secrets/warden/token" },
    ]);
  });

  it("writes an IPv6 gateway in brackets, and the runner reads it back as that host and port", () => {
    const v6 = podSpec(spec, { ...token, gateway: { host: "fd00::1", port: 7480 } });
    const env = Object.fromEntries((v6.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env.WARDEN_K8S_GATEWAY).toBe("[fd00::1]:7480");
    expect(loadRunnerConfig(env).k8s?.gateway).toEqual({ host: "fd00::1", port: 7480 });
    expect(loadRunnerConfig({ WARDEN_K8S_GATEWAY: hostPortString(gateway) }).k8s?.gateway).toEqual(gateway);
  });

  it("refuses token identity without a gateway address", () => {
    expect(() => podSpec(spec, token)).toThrow(/gateway/);
  });
});

describe("podSpec() in socket identity", () => {
  const pod = podSpec(spec, { ...token, identity: "socket" });
  it("mounts the agent's socket directory from the node read-only and carries no token at all", () => {
    expect(pod.spec?.volumes?.slice(2)).toEqual([
      { name: "warden-socket", hostPath: { path: "/home/w/agents/a1/run", type: "Directory" } },
    ]);
    expect(pod.spec?.containers[0]?.volumeMounts?.slice(2)).toEqual([
      // Read-only: connecting to the socket needs no write, and the agent can plant no file or symlink.
      { name: "warden-socket", mountPath: "/run/warden", readOnly: true },
    ]);
    expect(JSON.stringify(pod)).not.toMatch(/serviceAccountToken|WARDEN_K8S_TOKEN_FILE/);
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
  });
});

describe("names", () => {
  it("are DNS labels of at most 63 characters, distinct for names that differ", () => {
    const long = "x".repeat(63);
    for (const n of ["a_b", "a-b", "a_", long, `${long.slice(0, 62)}_`]) {
      expect(podName("i1", n)).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(podName("i1", n).length).toBeLessThanOrEqual(63);
    }
    expect(podName("i1", "a_b")).not.toBe(podName("i1", "a-b"));
    expect(podName("i1", "a_b")).not.toBe(podName("i2", "a_b"));
    expect(agentLabel("a_b")).toBe("a_b");
    expect(agentLabel("a_")).toMatch(/^h-[0-9a-f]{10}$/);
  });
});

describe("podAgent()", () => {
  const pod = podSpec(spec, { ...token, gateway });
  const meta = pod.metadata as NonNullable<typeof pod.metadata>;
  const as = (m: Partial<typeof meta>) => ({ ...pod, metadata: { ...meta, ...m } });

  it("is the agent of the Pod Warden made for it", () => {
    expect(podAgent(pod, "i1")).toBe("a1");
  });

  it("trusts no annotation on a Pod named otherwise, of another instance, or without one", () => {
    // Anyone who may create Pods in the namespace can copy the annotation and labels.
    expect(podAgent(as({ name: "attacker" }), "i1")).toBeUndefined();
    expect(podAgent(as({ annotations: { "warden.agent": "admin" } }), "i1")).toBeUndefined();
    expect(podAgent(pod, "i2")).toBeUndefined();
    expect(podAgent(as({ labels: {} }), "i1")).toBeUndefined();
    expect(podAgent(as({ annotations: {} }), "i1")).toBeUndefined();
    const odd = podSpec({ ...spec, name: "a_b" }, { ...token, gateway });
    expect(podAgent(odd, "i1")).toBe("a_b");
    expect(podAgent({ ...odd, metadata: { ...odd.metadata, name: "warden-i1-a-b" } }, "i1")).toBeUndefined();
  });
});

describe("agentNetworkPolicies()", () => {
  it("denies everything in the namespace and lets agent Pods reach only the gateway's IP and port", () => {
    const [deny, allow] = agentNetworkPolicies("warden-agents", gateway);
    expect(deny).toMatchObject({
      kind: "NetworkPolicy",
      metadata: { name: "warden-agents-default-deny", namespace: "warden-agents" },
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [], egress: [] },
    });
    expect(allow.spec).toEqual({
      podSelector: { matchExpressions: [{ key: "warden.agent", operator: "Exists" }] },
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ ipBlock: { cidr: "10.0.0.7/32" } }],
          ports: [{ protocol: "TCP", port: 8080 }],
        },
      ],
    });
  });

  it("selects the gateway Pods when the gateway is a name, and allows no egress in socket identity", () => {
    const [, byName] = agentNetworkPolicies("ns", { host: "warden.warden.svc", port: 8080 });
    expect(byName.spec?.egress?.[0]?.to).toEqual([DEFAULT_GATEWAY_PEER]);
    const [, resolved] = agentNetworkPolicies("ns", {
      host: "warden.warden.svc",
      address: "10.96.0.9",
      port: 8080,
    });
    expect(resolved.spec?.egress?.[0]?.to).toEqual([
      { ipBlock: { cidr: "10.96.0.9/32" } },
      DEFAULT_GATEWAY_PEER,
    ]);
    const [, socket] = agentNetworkPolicies("ns");
    expect(socket.spec?.egress).toEqual([]);
  });

  it("an IP gateway gets exactly its IP (v4 /32, v6 /128), no Pods of the warden namespace", () => {
    const [, v4] = agentNetworkPolicies("ns", { ...gateway, address: "10.9.9.9" });
    expect(v4.spec?.egress?.[0]?.to).toEqual([{ ipBlock: { cidr: "10.0.0.7/32" } }]);
    const [, v6] = agentNetworkPolicies("ns", { host: "fd00::1", port: 7480 });
    expect(v6.spec?.egress?.[0]?.to).toEqual([{ ipBlock: { cidr: "fd00::1/128" } }]);
    expect(JSON.stringify([v4, v6])).not.toContain("namespaceSelector");
  });

  it("explicit peers replace the default, and an empty destination list is refused (it would allow all)", () => {
    const peer = { podSelector: { matchLabels: { app: "gw" } } };
    const [, ip] = agentNetworkPolicies("ns", { ...gateway, peers: [peer] });
    expect(ip.spec?.egress?.[0]?.to).toEqual([{ ipBlock: { cidr: "10.0.0.7/32" } }, peer]);
    const [, named] = agentNetworkPolicies("ns", { host: "gw.local", port: 1, peers: [peer] });
    expect(named.spec?.egress?.[0]?.to).toEqual([peer]);
    expect(() => agentNetworkPolicies("ns", { host: "gw.local", port: 1, peers: [] })).toThrow(/IP or peers/);
    expect(() => agentNetworkPolicies("ns", { port: 1 })).toThrow(/IP or peers/);
  });
});

describe("no secret reaches the Pod (leak test)", () => {
  it("a real secret in the vault is only a placeholder in the spec, the Pod, the policies and the ConfigMap", async () => {
    const home = await mkdtemp(join(tmpdir(), "wdn-podspec-"));
    const REAL = `real-pod-secret-${randomBytes(8).toString("hex")}`;
    await mkdir(join(home, "policies"));
    await writeFile(
      join(home, "policies", "up.yaml"),
      "hosts: [up.test]\nsecrets:\n  UP_TOKEN: {}\nrules:\n  - name: all\n    action: allow\n",
    );
    const gw = await startGateway({
      home,
      policiesDir: join(home, "policies"),
      listen: { host: "127.0.0.1", port: 0 },
      control: { host: "127.0.0.1", port: 0 },
      masterKey: randomBytes(32).toString("hex"),
      log: () => undefined,
      drainMs: 100,
    });
    try {
      await gw.credentials.setSecret("UP_TOKEN", REAL);
      const fake = createFakeRuntime();
      const port = await gatewayPort(gw);
      const manager = createAgentManager({
        runtime: fake.runtime,
        gateway: port,
        dir: join(home, "agents"),
        image: "img",
      });
      await manager.start("leaky", { provider: "demo", env: { NOTE: "hello" } });
      const started = fake.started[0] as AgentSpec;
      const objects = [
        podSpec(started, { ...token, gateway }),
        podSpec(started, { ...token, identity: "socket" }),
        ...agentNetworkPolicies("warden-agents", gateway),
        caConfigMap("i1", "warden-agents", port.bundlePem),
      ];
      const json = JSON.stringify(objects);
      expect(json).toContain("UP_TOKEN");
      expect(started.env.UP_TOKEN).toMatch(/^wdn_/);
      expect(json).not.toContain(REAL);
      expect(json).not.toContain(Buffer.from(REAL).toString("base64"));
      await manager.stopAll();
    } finally {
      await gw.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});
