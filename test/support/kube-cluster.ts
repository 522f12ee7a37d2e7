/**
 * A real, throwaway Kubernetes v1.20.2 for the tests: etcd + kube-apiserver on free 127.0.0.1 ports
 * (flags as in ../shared/SCALE-OUT.md §1), and with `kubelet: true` a node running real Pods on a
 * private dockerd. Binaries come from the cache scripts/kube-binaries.sh fills; call `requireKube()`
 * first. Each call gets its own scratch dir under os.tmpdir() and its own ports, so test files may run
 * in parallel; `stop()` kills every process group it started and removes the scratch dir.
 * No controller-manager or scheduler runs: `createNamespace()` also creates the `default`
 * ServiceAccount (with automount off), Pods must set `automountServiceAccountToken: false` (no token
 * controller), a deleted namespace stays Terminating, and kube-binder.ts binds new Pods to the node.
 * Identities (static tokens): admin (system:masters), the kubelet (system:node:localhost) and
 * `warden-gateway`, bound only to system:auth-delegator, as the gateway would be for TokenReview.
 */
import { request } from "node:https";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeBinaries } from "./kube-binaries.js";
import { type KubeNode, loadImageInto, removePodBridge, startNode, stopNode } from "./kube-node.js";
import { startBinder } from "./kube-binder.js";
import { makePki, writeKubeconfig } from "./kube-pki.js";
import { type Daemon, freePort, removeScratch, startDaemon, stopDaemon, waitFor } from "./kube-procs.js";

/** The audience the gateway reviews projected tokens for (DESIGN §8); the apiserver itself refuses it. */
export const GATEWAY_AUDIENCE = "warden-gateway";
const ISSUER = "https://kubernetes.default.svc.cluster.local";

// biome-ignore lint/suspicious/noExplicitAny: tests read fields of arbitrary Kubernetes objects.
export type ApiAnswer = { status: number; body: any };

export interface KubeCluster {
  /** The scratch dir (removed by stop()). */
  readonly dir: string;
  /** https://127.0.0.1:<port> */
  readonly server: string;
  readonly caPem: string;
  readonly adminToken: string;
  /** The `warden-gateway` user: may create TokenReviews, nothing else. */
  readonly gatewayToken: string;
  /** Admin kubeconfig (for KubeConfig.loadFromFile). */
  readonly kubeconfigPath: string;
  readonly gatewayKubeconfigPath: string;
  /** The private dockerd the kubelet uses (unix://…), when started with a kubelet. */
  readonly dockerHost?: string;
  readonly dockerSock?: string;
  /** The kubelet's root dir: pods/<uid>/volumes/kubernetes.io~projected/<volume>/<path>. */
  readonly kubeletDir?: string;
  /** The Pod bridge's host address (with a kubelet): a gateway listening here is reachable from Pods. */
  readonly podGateway?: string;
  readonly timings: { apiserverReadyMs: number; nodeReadyMs?: number };
  /** Raw API call (JSON), as admin unless another bearer token is given. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<ApiAnswer>;
  /** Namespace + its `default` ServiceAccount (automount off): no controller-manager creates it here. */
  createNamespace(name: string): Promise<void>;
  /** Copies an image of the main Docker engine into the kubelet's private dockerd. */
  loadImage(tag: string): void;
  /** Tail of a daemon's log (etcd, kube-apiserver, dockerd, kubelet), for failure messages. */
  logTail(name: string, lines?: number): string;
  /** Pids of the process-group leaders it started (etcd, kube-apiserver, dockerd, kubelet). */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startKubeCluster(opts: { kubelet?: boolean } = {}): Promise<KubeCluster> {
  const bins = kubeBinaries();
  if ("missing" in bins) throw new Error(`Kubernetes binaries unavailable: ${bins.missing}`);
  const dir = mkdtempSync(join(tmpdir(), "wk-"));
  const logDir = join(dir, "logs");
  mkdirSync(logDir);
  const daemons: Daemon[] = [];
  const track = (d: Daemon) => void daemons.push(d);
  let node: KubeNode | undefined;
  let bridge: string | undefined;
  let stopBinder: (() => Promise<void>) | undefined;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const find = (n: string) => daemons.find((d) => d.name === n);
    await stopBinder?.();
    if (node) await stopNode(node, find("dockerd"), find("kubelet"));
    else if (find("kubelet")) await stopDaemon(find("kubelet") as Daemon);
    if (find("dockerd") && !node) await stopDaemon(find("dockerd") as Daemon);
    removePodBridge(bridge);
    for (const n of ["kube-apiserver", "etcd"]) {
      const d = find(n);
      if (d) await stopDaemon(d);
    }
    await removeScratch(dir);
  };
  const logTail = (name: string, lines?: number) => daemons.find((d) => d.name === name)?.tail(lines) ?? "";

  try {
    const started = Date.now();
    const pki = makePki(dir);
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    track(
      startDaemon(
        "etcd",
        bins.etcd,
        ["--name", "t", "--data-dir", join(dir, "etcd"), "--listen-client-urls", etcdUrl]
          .concat(["--advertise-client-urls", etcdUrl, "--listen-peer-urls", peerUrl])
          .concat(["--initial-advertise-peer-urls", peerUrl, "--initial-cluster", `t=${peerUrl}`]),
        logDir,
      ),
    );
    const server = `https://127.0.0.1:${apiPort}`;
    track(
      startDaemon(
        "kube-apiserver",
        bins.apiserver,
        [`--etcd-servers=${etcdUrl}`, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"]
          .concat([
            `--secure-port=${apiPort}`,
            "--insecure-port=0",
            `--cert-dir=${join(dir, "apiserver-certs")}`,
          ])
          .concat([`--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`])
          .concat([`--client-ca-file=${pki.caCert}`, `--token-auth-file=${pki.tokenFile}`])
          .concat(["--authorization-mode=Node,RBAC", `--service-account-issuer=${ISSUER}`])
          .concat([
            `--service-account-signing-key-file=${pki.saKey}`,
            `--service-account-key-file=${pki.saPub}`,
          ])
          // The API server accepts only its own audience: a Pod's warden-gateway token must be useless
          // against it (the quick start checks 401); TokenReview names the audience it asks about.
          .concat([`--api-audiences=${ISSUER}`, "--service-cluster-ip-range=10.96.0.0/24"])
          .concat(["--allow-privileged=false", "--kubelet-preferred-address-types=Hostname,InternalIP"])
          .concat(["--profiling=false"]),
        logDir,
      ),
    );
    const api = (method: string, path: string, body?: unknown, token = pki.tokens.admin) =>
      apiCall(server, pki.caPem, token, method, path, body);
    const context = () =>
      `--- etcd ---\n${logTail("etcd", 10)}\n--- kube-apiserver ---\n${logTail("kube-apiserver")}`;
    await waitFor(
      "kube-apiserver /readyz",
      async () => {
        if (daemons.some((d) => d.exited())) throw new Error("etcd or kube-apiserver exited");
        return (await api("GET", "/readyz")).status === 200 ? true : undefined;
      },
      120_000,
      context,
    );
    const apiserverReadyMs = Date.now() - started;
    const bind = await api("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "warden-gateway-auth-delegator" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "warden-gateway" }],
    });
    if (bind.status !== 201) throw new Error(`binding warden-gateway failed: ${bind.status}`);

    let nodeReadyMs: number | undefined;
    if (opts.kubelet) {
      const nodeKubeconfig = writeKubeconfig(
        join(dir, "node.kubeconfig"),
        server,
        pki.caPem,
        "node",
        pki.tokens.node,
      );
      node = await startNode({
        dir,
        logDir,
        bins,
        nodeKubeconfig,
        onDaemon: track,
        onBridge: (name) => {
          bridge = name;
        },
      });
      await waitFor(
        "node localhost Ready",
        async () => {
          if (daemons.some((d) => d.exited())) throw new Error("a cluster daemon exited");
          const res = await api("GET", "/api/v1/nodes/localhost");
          const ready = res.body?.status?.conditions?.find((c: { type: string }) => c.type === "Ready");
          return ready?.status === "True" ? true : undefined;
        },
        120_000,
        () => `--- kubelet ---\n${logTail("kubelet", 40)}\n--- dockerd ---\n${logTail("dockerd", 10)}`,
      );
      nodeReadyMs = Date.now() - started;
      stopBinder = startBinder(api);
    }

    const n = node;
    return {
      dir,
      server,
      caPem: pki.caPem,
      adminToken: pki.tokens.admin,
      gatewayToken: pki.tokens.gateway,
      kubeconfigPath: writeKubeconfig(
        join(dir, "admin.kubeconfig"),
        server,
        pki.caPem,
        "admin",
        pki.tokens.admin,
      ),
      gatewayKubeconfigPath: writeKubeconfig(
        join(dir, "gateway.kubeconfig"),
        server,
        pki.caPem,
        "warden-gateway",
        pki.tokens.gateway,
      ),
      dockerHost: n?.dockerHost,
      dockerSock: n?.dockerSock,
      kubeletDir: n?.kubeletDir,
      podGateway: n?.podGateway,
      timings: { apiserverReadyMs, nodeReadyMs },
      api,
      async createNamespace(name) {
        const ns = await api("POST", "/api/v1/namespaces", { metadata: { name } });
        if (ns.status !== 201) throw new Error(`namespace ${name}: ${ns.status} ${ns.body?.message ?? ""}`);
        const sa = await api("POST", `/api/v1/namespaces/${name}/serviceaccounts`, {
          metadata: { name: "default" },
          automountServiceAccountToken: false,
        });
        if (sa.status !== 201) throw new Error(`serviceaccount ${name}/default: ${sa.status}`);
      },
      loadImage(tag) {
        if (!n) throw new Error("loadImage needs a cluster started with { kubelet: true }");
        loadImageInto(n.dockerHost, tag);
      },
      logTail,
      pids: () => daemons.map((d) => d.child.pid).filter((p): p is number => p !== undefined),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function apiCall(
  server: string,
  ca: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${server}${path}`,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(data ? { "content-type": "application/json" } : {}),
        },
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // /readyz answers plain text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(data);
  });
}
