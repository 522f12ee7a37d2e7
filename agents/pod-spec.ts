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

/** `host:port`, with brackets around an IPv6 address (`[fd00::1]:7480`), as the runner parses it. */
export function hostPortString(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** The workspace emptyDir's size and the container's ephemeral-storage limit (Docker parity). */
export const WORKSPACE_SIZE = "1Gi";
/** Workspace + /tmp (memory, counted against `memory`) + the runner's logs and writable layer. */
export const EPHEMERAL_STORAGE = "2Gi";

export interface PodSpecOptions {
  /** Installation name, label-safe; Pods of other instances are never touched. */
  readonly instance: string;
  readonly namespace: string;
  readonly identity: Identity;
  /** token identity: where the runner's forwarder connects (WARDEN_K8S_GATEWAY); an IP, no DNS in Pods. */
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

/**
 * The agent a Pod of `instance` runs, or undefined. The annotation and labels are set by whoever
 * creates the Pod, and anyone who may create Pods in the namespace may set them: the Pod's name must
 * also be the one Warden gives that agent's Pod, so a Pod named otherwise never speaks as the agent.
 */
export function podAgent(pod: V1Pod, instance: string): string | undefined {
  const m = pod.metadata;
  const agent = m?.annotations?.[AGENT_LABEL];
  if (!agent || m?.labels?.[INSTANCE_LABEL] !== instance) return undefined;
  return m.name === podName(instance, agent) ? agent : undefined;
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
      ? { WARDEN_K8S_GATEWAY: hostPortString(opts.gateway), WARDEN_K8S_TOKEN_FILE: TOKEN_PATH }
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
      : // Read-only: connect(2) to a Unix socket needs no write access to the mount, and a writable
        // mount would let the agent plant files or symlinks (ca.pem -> a host file) the host then
        // writes through.
        [{ name: "warden-socket", mountPath: "/run/warden", readOnly: true }];
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
          // No pids limit here: Kubernetes v1.20 has none per Pod, only the kubelet's per-node
          // podPidsLimit (--pod-max-pids), so spec.limits.pids is for the Docker runtime only.
          resources: {
            limits: { cpu, memory, "ephemeral-storage": EPHEMERAL_STORAGE },
            requests: { cpu, memory, "ephemeral-storage": EPHEMERAL_STORAGE },
          },
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
        // The kubelet evicts the Pod when the workspace outgrows this (Docker: the volume's quota).
        { name: "workspace", emptyDir: { sizeLimit: WORKSPACE_SIZE } },
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        ...gatewayVolumes,
      ],
    },
  };
}

/**
 * Default-deny for the whole namespace, and egress for agent Pods only to the gateway: its IP (`host`
 * when it is one, else `address`, what Warden resolved the name to), and `peers`. Without `peers` the
 * gateway Pods of deploy/kubernetes are allowed only when `host` is a name (the in-cluster Service);
 * an IP gateway gets exactly that IP. No DNS: the runner dials the IP it is given, and a DNS server
 * would be a way out.
 */
export function agentNetworkPolicies(
  namespace: string,
  gateway?: {
    readonly port: number;
    readonly host?: string;
    /** The IP a host name resolved to (kubernetes-runtime.ts); ignored when `host` is an IP. */
    readonly address?: string;
    readonly peers?: readonly V1NetworkPolicyPeer[];
  },
): [V1NetworkPolicy, V1NetworkPolicy] {
  const named = !!gateway?.host && isIP(gateway.host) === 0;
  const addr = named ? gateway?.address : gateway?.host;
  const ip = addr ? isIP(addr) : 0;
  const to: V1NetworkPolicyPeer[] = [
    ...(ip ? [{ ipBlock: { cidr: `${addr}/${ip === 4 ? 32 : 128}` } }] : []),
    // A name is a Service: many CNIs match egress after its DNAT, i.e. on the gateway Pods' address.
    ...(gateway?.peers ?? (named ? [DEFAULT_GATEWAY_PEER] : [])),
  ];
  // An empty `to` means every destination: fail closed rather than open the port to the world.
  if (gateway && to.length === 0)
    throw new Error("the gateway NetworkPolicy needs the gateway's IP or peers");
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
