/**
 * The Kubernetes objects for agents, as plain data (DESIGN §8): the Pod of one agent, the two
 * NetworkPolicies that isolate every agent Pod, and the ConfigMap holding the public CA bundle. Pure:
 * kubernetes/kubernetes-runtime.ts sends them, tests check every field. The agent inside the Pod is
 * hostile: it runs as uid 1000 with a read-only root, no capabilities, no privilege escalation,
 * RuntimeDefault seccomp, limits, no host namespace and no service-account token but the projected one
 * whose only audience is the gateway (token identity). Its env is `spec.env` (proxy settings and placeholders,
 * never a real secret) plus the gateway's address; nothing here reads or adds a secret.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type {
  V1ConfigMap,
  V1EnvVar,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1Pod,
} from "@kubernetes/client-node";
import type { AgentSpec } from "./runtime.js";

/** How an agent Pod proves who it is to the gateway. */
export type Identity = "token" | "socket";

export const AGENT_LABEL = "warden.agent";
export const INSTANCE_LABEL = "warden.instance";
/** The only audience of the agent's token: useless against the API server or anything else. */
export const GATEWAY_AUDIENCE = "warden-gateway";
export const AGENT_SERVICE_ACCOUNT = "warden-agent";
export const TOKEN_DIR = "/var/run/secrets/warden";
export const TOKEN_PATH = `${TOKEN_DIR}/token`;
export const DENY_POLICY = "warden-agents-default-deny";
export const GATEWAY_POLICY = "warden-agents-allow-gateway";
/** Where the gateway runs when WARDEN_K8S_GATEWAY names a host rather than an IP (deploy/kubernetes). */
export const DEFAULT_GATEWAY_PEER: V1NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "warden" } },
  podSelector: { matchLabels: { "app.kubernetes.io/name": "warden" } },
};

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface PodSpecOptions {
  /** Installation name, label-safe; Pods of other instances are never touched. */
  readonly instance: string;
  readonly namespace: string;
  readonly identity: Identity;
  /** token identity: where the runner's forwarder connects (WARDEN_K8S_GATEWAY). */
  readonly gateway?: HostPort;
  /** Default 3600 s; the kubelet rewrites the file at 80 % of it, the runner re-reads it per connection. */
  readonly tokenExpirationSeconds?: number;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const short = (s: string): string => createHash("sha256").update(s).digest("hex").slice(0, 10);

/** The Pod's name: `warden-<instance>-<agent>`, or a slug + hash when the agent name is not DNS-safe. */
export function podName(instance: string, agent: string): string {
  const plain = `warden-${instance}-${agent}`;
  if (plain.length <= 63 && DNS_LABEL.test(plain)) return plain;
  const slug = agent.replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "");
  const head = `warden-${instance}-${slug}`.slice(0, 51).replace(/-+$/, "");
  return `${head}-${short(`${instance}/${agent}`)}`;
}

/** A label value for the agent name; the exact name is also in the `warden.agent` annotation. */
export function agentLabel(agent: string): string {
  return agent.length <= 63 && LABEL_VALUE.test(agent) ? agent : `h-${short(agent)}`;
}

export const caConfigMapName = (instance: string): string => `warden-ca-${instance}`;

/** The public CA bundle (system roots + Warden CA) the agent trusts; a certificate, not a secret. */
export function caConfigMap(instance: string, namespace: string, bundlePem: string): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: caConfigMapName(instance), namespace, labels: { [INSTANCE_LABEL]: instance } },
    data: { "ca.pem": bundlePem },
  };
}

/** The Pod for `spec`; exported so tests can check every isolation setting. */
export function podSpec(spec: AgentSpec, opts: PodSpecOptions): V1Pod {
  const { identity, instance } = opts;
  if (identity === "token" && !opts.gateway) throw new Error("token identity needs the gateway's host:port");
  const extra: Record<string, string> =
    identity === "token" && opts.gateway
      ? { WARDEN_K8S_GATEWAY: `${opts.gateway.host}:${opts.gateway.port}`, WARDEN_K8S_TOKEN_FILE: TOKEN_PATH }
      : {};
  // Ours last: the spec cannot point the runner at another gateway or token file.
  const envMap = { ...spec.env, ...extra };
  const env: V1EnvVar[] = Object.keys(envMap)
    .sort()
    .map((name) => ({ name, value: envMap[name] as string }));
  const cpu = `${Math.max(1, Math.round(spec.limits.cpus * 1000))}m`;
  const memory = `${spec.limits.memoryMb}Mi`;
  const gatewayVolumes =
    identity === "token"
      ? [
          { name: "warden-ca", configMap: { name: caConfigMapName(instance) } },
          {
            name: "gateway-token",
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: GATEWAY_AUDIENCE,
                    expirationSeconds: opts.tokenExpirationSeconds ?? 3600,
                    path: "token",
                  },
                },
              ],
            },
          },
        ]
      : [{ name: "warden-socket", hostPath: { path: spec.socketDir, type: "Directory" } }];
  const gatewayMounts =
    identity === "token"
      ? [
          { name: "warden-ca", mountPath: "/run/warden", readOnly: true },
          { name: "gateway-token", mountPath: TOKEN_DIR, readOnly: true },
        ]
      : // The gateway's socket lives here; the runner connects, so the mount cannot be read-only.
        [{ name: "warden-socket", mountPath: "/run/warden" }];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName(instance, spec.name),
      namespace: opts.namespace,
      labels: {
        [AGENT_LABEL]: agentLabel(spec.name),
        [INSTANCE_LABEL]: instance,
        "warden.provider": spec.provider,
      },
      annotations: { [AGENT_LABEL]: spec.name, "warden.identity": identity },
    },
    spec: {
      serviceAccountName: AGENT_SERVICE_ACCOUNT,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // Restarts are Warden's (backoff, a reason in the log), not the kubelet's.
      restartPolicy: "Never",
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      shareProcessNamespace: false,
      terminationGracePeriodSeconds: 5,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        // Makes the projected token and the emptyDirs readable by the agent's group, nobody else's.
        fsGroup: 1000,
        // Kubernetes before 1.27 defaults to Unconfined: ask for the runtime's filter explicitly.
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [
        {
          name: "runner",
          image: spec.image,
          imagePullPolicy: "IfNotPresent",
          workingDir: "/workspace",
          env,
          resources: { limits: { cpu, memory }, requests: { cpu, memory } },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            privileged: false,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
          },
          volumeMounts: [
            { name: "workspace", mountPath: "/workspace" },
            { name: "tmp", mountPath: "/tmp" },
            ...gatewayMounts,
          ],
        },
      ],
      volumes: [
        { name: "workspace", emptyDir: {} },
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        ...gatewayVolumes,
      ],
    },
  };
}

/**
 * Default-deny for the whole namespace, and egress for agent Pods only to the gateway: its IP when
 * WARDEN_K8S_GATEWAY is one, and `peers` (default the gateway Pods of deploy/kubernetes). No DNS:
 * the runner dials the address it is given, and a DNS server would be a way out.
 */
export function agentNetworkPolicies(
  namespace: string,
  gateway?: {
    readonly port: number;
    readonly host?: string;
    readonly peers?: readonly V1NetworkPolicyPeer[];
  },
): [V1NetworkPolicy, V1NetworkPolicy] {
  const ip = gateway?.host ? isIP(gateway.host) : 0;
  const to: V1NetworkPolicyPeer[] = [
    ...(ip ? [{ ipBlock: { cidr: `${gateway?.host}/${ip === 4 ? 32 : 128}` } }] : []),
    // Also the gateway Pods: many CNIs match egress after a Service's DNAT, i.e. on the Pod address.
    ...(gateway?.peers ?? [DEFAULT_GATEWAY_PEER]),
  ];
  const meta = (name: string) => ({ name, namespace, labels: { "app.kubernetes.io/managed-by": "warden" } });
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta(DENY_POLICY),
      spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [], egress: [] },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta(GATEWAY_POLICY),
      spec: {
        podSelector: { matchExpressions: [{ key: AGENT_LABEL, operator: "Exists" }] },
        policyTypes: ["Egress"],
        // Socket identity (no gateway address): the hostPath socket is the only way out, so no egress.
        egress: gateway ? [{ to, ports: [{ protocol: "TCP", port: gateway.port }] }] : [],
      },
    },
  ];
}
