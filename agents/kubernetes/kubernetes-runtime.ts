/**
 * `Runtime` on a Kubernetes cluster (DESIGN §8); agents/kubernetes/ is the only folder that imports
 * @kubernetes/client-node. Each agent is one Pod shaped by ../pod-spec.ts. Before any Pod it ensures
 * the namespace, the agents' ServiceAccount (no API token mounted) and the two NetworkPolicies that
 * isolate agent Pods; when one of them cannot be ensured (RBAC) it throws `RuntimeUnavailable` naming
 * it and creates no Pod. A gateway named by host is resolved first (gateway-address.ts): Pods and the
 * policy get its IP, since Pods have no DNS. The agent inside is hostile; the API server's answers
 * are trusted only as far as the credentials Warden was given. Also here: the Pod lookup the
 * gateway's token identity uses (the TokenReview itself is token-reviewer.ts); it trusts a Pod's
 * annotation only on the Pod named after that agent (podAgent), since anyone who may create Pods
 * in the namespace can set annotations.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  CoreV1Api,
  NetworkingV1Api,
  type V1NetworkPolicyPeer,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import {
  AGENT_LABEL,
  AGENT_SERVICE_ACCOUNT,
  agentNetworkPolicies,
  caConfigMap,
  type HostPort,
  type Identity,
  INSTANCE_LABEL,
  podAgent,
  podName,
  podSpec,
} from "../pod-spec.js";
import { podExitCode, podState, podStuck, podSummary } from "../pod-status.js";
import { type AgentHandle, type AgentSpec, type Runtime, RuntimeUnavailable } from "../runtime.js";
import { gatewayResolver, type Lookup } from "./gateway-address.js";
import { apiStatus as status, apiWhy as why, type KubeCredentials, kubeConfig } from "./kube-config.js";
import { execInPod } from "./pod-exec.js";

export interface KubernetesRuntimeOptions extends KubeCredentials {
  /** Default `warden-agents`; created when missing unless `createNamespace` is false. */
  readonly namespace?: string;
  readonly createNamespace?: boolean;
  readonly image?: string;
  /** Default `token`; `socket` mounts the agent's socket directory from the node (hostPath). */
  readonly identity?: Identity;
  /** WARDEN_K8S_GATEWAY: required for token identity; a host name is resolved to an IP by `lookup`. */
  readonly gateway?: HostPort;
  /** Resolves a gateway host name (default the system resolver); injectable for tests. */
  readonly lookup?: Lookup;
  /** Who agent Pods may reach besides the gateway's IP; default the gateway Pods of deploy/kubernetes
   * when the gateway is a host name, none when it is an IP. */
  readonly gatewayPeers?: readonly V1NetworkPolicyPeer[];
  /** Label-safe installation name; Pods of other instances are never listed or removed. */
  readonly instance?: string;
  /** How long to wait for the runner's ready line. Default 120 s (an image pull may be in it). */
  readonly readyTimeoutMs?: number;
}

export interface KubernetesRuntime extends Runtime {
  /** For the gateway's token identity: the agent a live Pod of this instance runs, if `uid` matches. */
  agentOfPod(name: string, uid: string): Promise<string | undefined>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createKubernetesRuntime(opts: KubernetesRuntimeOptions = {}): KubernetesRuntime {
  const kc = kubeConfig(opts);
  const core = kc.makeApiClient(CoreV1Api);
  const net = kc.makeApiClient(NetworkingV1Api);
  const namespace = opts.namespace ?? "warden-agents";
  const identity = opts.identity ?? "token";
  const instance = opts.instance ?? "default";
  if (!/^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/.test(instance))
    throw new Error(`instance must be a DNS label of at most 20 characters, got ${instance}`);
  if (identity === "token" && !opts.gateway) throw new Error("token identity needs the gateway's HOST:PORT");
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const mine = `${INSTANCE_LABEL}=${instance}`;
  const gatewayIp = opts.gateway ? gatewayResolver(opts.gateway, opts.lookup) : undefined;

  /** Create, or replace when it exists; any refusal names the object and stops the start. */
  async function ensure(
    kind: string,
    name: string,
    create: () => Promise<unknown>,
    replace?: () => Promise<unknown>,
  ) {
    try {
      await create();
    } catch (err) {
      try {
        if (status(err) !== 409) throw err;
        await replace?.();
      } catch (e) {
        throw new RuntimeUnavailable(
          `${kind} ${namespace}/${name}`,
          `cannot create ${kind} ${namespace}/${name} (${why(e)}); Warden starts no agent Pod without it`,
          { cause: e },
        );
      }
    }
  }

  async function prepare(spec: AgentSpec, gatewayAt: HostPort | undefined): Promise<void> {
    try {
      await core.readNamespace({ name: namespace });
    } catch (err) {
      // 403: we may not read namespaces; the Pod create will tell whether it exists.
      if (status(err) === 404 && opts.createNamespace !== false)
        await ensure("Namespace", namespace, () =>
          core.createNamespace({ body: { metadata: { name: namespace } } }),
        );
      else if (status(err) !== 403)
        throw new RuntimeUnavailable(`Namespace ${namespace}`, `namespace ${namespace}: ${why(err)}`, {
          cause: err,
        });
    }
    await ensure("ServiceAccount", AGENT_SERVICE_ACCOUNT, () =>
      core.createNamespacedServiceAccount({
        namespace,
        body: { metadata: { name: AGENT_SERVICE_ACCOUNT }, automountServiceAccountToken: false },
      }),
    );
    // Isolation first: no Pod exists unless both policies do.
    const gw = gatewayAt && { ...gatewayAt, host: opts.gateway?.host, address: gatewayAt.host };
    for (const policy of agentNetworkPolicies(namespace, gw && { ...gw, peers: opts.gatewayPeers })) {
      const name = policy.metadata?.name as string;
      await ensure(
        "NetworkPolicy",
        name,
        () => net.createNamespacedNetworkPolicy({ namespace, body: policy }),
        () => net.replaceNamespacedNetworkPolicy({ name, namespace, body: policy }),
      );
    }
    if (identity === "token") {
      // The manager writes the public CA bundle beside the socket; the Pod gets it from a ConfigMap.
      const cm = caConfigMap(instance, namespace, await readFile(join(spec.socketDir, "ca.pem"), "utf8"));
      const name = cm.metadata?.name as string;
      await ensure(
        "ConfigMap",
        name,
        () => core.createNamespacedConfigMap({ namespace, body: cm }),
        () => core.replaceNamespacedConfigMap({ name, namespace, body: cm }),
      );
    }
  }

  async function remove(pod: string): Promise<void> {
    try {
      await core.deleteNamespacedPod({ name: pod, namespace, gracePeriodSeconds: 5 });
    } catch (err) {
      if (status(err) !== 404) throw err;
      return;
    }
    // Deletion is graceful: the name is free only once the kubelet has stopped the runner.
    for (let waited = 0; ; waited += 250) {
      try {
        await core.readNamespacedPod({ name: pod, namespace });
      } catch (err) {
        if (status(err) === 404) return;
        throw err;
      }
      if (waited === 30_000) await core.deleteNamespacedPod({ name: pod, namespace, gracePeriodSeconds: 0 });
      await sleep(250);
    }
  }

  /** Resolves with the exit code once the Pod with `uid` has terminated or is gone. */
  function watchExit(pod: string, uid: string): Promise<{ code: number }> {
    return new Promise((resolve) => {
      let done = false;
      let abort: AbortController | undefined;
      let last = 137;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        abort?.abort();
        resolve({ code });
      };
      const start = (): void => {
        if (done) return;
        void new Watch(kc)
          .watch(
            `/api/v1/namespaces/${namespace}/pods`,
            { fieldSelector: `metadata.name=${pod}` },
            (type: string, obj: V1Pod) => {
              if (obj.metadata?.uid !== uid) return type === "ADDED" ? finish(last) : undefined;
              const code = podExitCode(obj);
              if (code !== undefined) last = code;
              if (code !== undefined || type === "DELETED") finish(last);
            },
            // A watch ends now and then (server timeout, network): check, then watch again.
            () => {
              if (done) return;
              core.readNamespacedPod({ name: pod, namespace }).then(
                (p) =>
                  p.metadata?.uid !== uid
                    ? finish(last)
                    : podExitCode(p) !== undefined
                      ? finish(podExitCode(p) as number)
                      : setTimeout(start, 1000),
                (err) => (status(err) === 404 ? finish(last) : setTimeout(start, 1000)),
              );
            },
          )
          .then(
            (a) => {
              abort = a;
              if (done) a.abort();
            },
            () => setTimeout(start, 1000),
          );
      };
      start();
    });
  }

  async function waitReady(pod: string, exited: Promise<{ code: number }>): Promise<void> {
    let ended: number | undefined;
    void exited.then(({ code }) => {
      ended = code;
    });
    let last: V1Pod | undefined;
    let seen = "";
    for (const deadline = Date.now() + readyTimeoutMs; Date.now() < deadline; await sleep(300)) {
      last = await core.readNamespacedPod({ name: pod, namespace });
      const stuck = podStuck(last);
      if (stuck) throw new Error(`agent Pod ${namespace}/${pod} cannot start: ${stuck}`);
      if (last.status?.phase === "Running" || ended !== undefined) {
        seen = await core.readNamespacedPodLog({ name: pod, namespace }).catch(() => seen);
        if (seen.includes('"runner_ready"')) return;
      }
      if (ended !== undefined)
        throw new Error(`agent exited with code ${ended} before it was ready:\n${seen.slice(-2000)}`);
    }
    throw new Error(
      `agent not ready after ${readyTimeoutMs} ms (${podSummary(last)}):\n${seen.slice(-2000)}`,
    );
  }

  async function ours(): Promise<V1Pod[]> {
    return (await core.listNamespacedPod({ namespace, labelSelector: mine })).items;
  }

  return {
    async start(spec: AgentSpec): Promise<AgentHandle> {
      const gatewayAt = identity === "token" ? await gatewayIp?.() : undefined;
      await prepare(spec, gatewayAt);
      const name = podName(instance, spec.name);
      await remove(name);
      const body = podSpec(
        { ...spec, image: opts.image ?? spec.image },
        { instance, namespace, identity, gateway: gatewayAt },
      );
      const created = await core.createNamespacedPod({ namespace, body });
      const uid = created.metadata?.uid as string;
      const exited = watchExit(name, uid);
      await waitReady(name, exited);
      return { name: spec.name, id: uid, state: "running", exited };
    },
    async stop(name: string): Promise<void> {
      await remove(podName(instance, name));
    },
    async list() {
      return (await ours())
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => ({
          name: p.metadata?.annotations?.[AGENT_LABEL] ?? "",
          id: p.metadata?.uid ?? "",
          state: podState(p),
        }));
    },
    async logs(name: string, tail = 200): Promise<string> {
      return core.readNamespacedPodLog({ name: podName(instance, name), namespace, tailLines: tail });
    },
    exec: (name: string, cmd: readonly string[]) => execInPod(kc, namespace, podName(instance, name), cmd),
    async cleanupOrphans(): Promise<number> {
      const pods = await ours();
      await Promise.all(pods.map((p) => remove(p.metadata?.name as string)));
      return pods.length;
    },
    async agentOfPod(name: string, uid: string): Promise<string | undefined> {
      try {
        const p = await core.readNamespacedPod({ name, namespace });
        const live = !p.metadata?.deletionTimestamp && podExitCode(p) === undefined;
        const same = p.metadata?.uid === uid && p.metadata?.name === name;
        return live && same ? podAgent(p, instance) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
