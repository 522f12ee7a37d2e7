/**
 * The test cluster's node: a PRIVATE dockerd (own data/exec root, socket and containerd namespace, no
 * bridge, no iptables changes, so the machine's main Docker engine is untouched) and a kubelet using
 * it through dockershim, as measured in ../shared/SCALE-OUT.md §1. Two workarounds from there: a runc
 * wrapper that clamps negative oom_score_adj (this VM has no CAP_SYS_RESOURCE, the kubelet asks -998
 * for pause containers). Pod network: a bridge this node creates itself (Debian's CNI `bridge` +
 * `host-local` plugins, as the issue allows), because with a loopback-only config kubelet 1.20 finds
 * "no IP" on the sandbox at its next sync and kills the Pod within about a second. The bridge has one
 * host address, `podGateway` (x.x.x.1), where a test gateway listens; Pods get eth0 on the bridge's
 * /24 and no default route, no masquerade and no uplink, so traffic never leaves this machine. The
 * pause image is built FROM scratch around the cached static pause binary, since no registry is
 * reachable; test images are loaded from the main engine with `docker save | load`.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KubeBinaries } from "./kube-binaries.js";
import { which } from "./kube-binaries.js";
import { type Daemon, freePort, startDaemon, stopDaemon, waitFor } from "./kube-procs.js";

export const PAUSE_IMAGE = "k8s.gcr.io/pause:3.2";

export interface KubeNode {
  /** unix:// address of the private dockerd the kubelet runs pods on. */
  readonly dockerHost: string;
  readonly dockerSock: string;
  /** The kubelet's --root-dir (pods/<uid>/volumes/… live here). */
  readonly kubeletDir: string;
  readonly kubeletPort: number;
  /** The Pod bridge's interface name and its host address (Pods reach a gateway listening there). */
  readonly bridge: string;
  readonly podGateway: string;
  readonly daemons: Daemon[];
}

function docker(host: string, args: string[], input?: Buffer): string {
  return execFileSync("docker", ["-H", host, ...args], {
    input,
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** A locally built image of the main engine, copied into the node's private dockerd. */
export function loadImageInto(dockerHost: string, tag: string): void {
  execFileSync(
    "bash",
    ["-o", "pipefail", "-c", 'docker save "$1" | docker -H "$2" load -q', "bash", tag, dockerHost],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
}

/** A one-binary image FROM scratch (`docker import` of a tar holding only `binary` as /name). */
export function importStaticImage(
  dockerHost: string | undefined,
  binary: string,
  tag: string,
  user = "0",
): void {
  const name = binary.split("/").pop() as string;
  const tar = execFileSync("tar", ["-C", dirname(binary), "-c", name]);
  const change = ["--change", `ENTRYPOINT ["/${name}"]`, "--change", `USER ${user}`];
  execFileSync("docker", [...(dockerHost ? ["-H", dockerHost] : []), "import", ...change, "-", tag], {
    input: tar,
    stdio: ["pipe", "ignore", "pipe"],
  });
}

const RUNC_WRAP = `#!/bin/bash
# Clamp a negative .process.oomScoreAdj to 0 before runc sees it: without CAP_SYS_RESOURCE nobody may
# lower oom_score_adj, and runc then fails with "can't get final child's PID from pipe: EOF".
b=""; prev=""
for a in "$@"; do
  [ "$prev" = "--bundle" ] || [ "$prev" = "-b" ] && b="$a"
  case "$a" in --bundle=*) b="\${a#--bundle=}";; esac
  prev="$a"
done
if [ -n "$b" ] && [ -f "$b/config.json" ]; then
  jq 'if (.process.oomScoreAdj // 0) < 0 then .process.oomScoreAdj = 0 else . end' "$b/config.json" > "$b/config.json.w" &&
    mv "$b/config.json.w" "$b/config.json"
fi
exec __RUNC__ "$@"
`;

// The kubelet "tunes" host-global sysctls at start (vm.overcommit_memory=1, kernel.panic=10,
// kernel.panic_on_oops=1, …) and fails if it cannot. In its private mount namespace each of those
// /proc/sys files is a bind mount of a file already holding the wanted value, so it reads, is
// satisfied and writes nothing: the shared machine's kernel settings never change.
const KUBELET_NS = `#!/bin/sh
set -e
dir="$1"; shift
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \\
  kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
  key="\${kv%%=*}"; file="$dir/$(echo "$key" | tr / _)"
  echo "\${kv#*=}" > "$file"
  mount --bind "$file" "/proc/sys/$key"
done
exec "$@"
`;

/** Starts the private dockerd, the pause image, CNI config and the kubelet; waits for dockerd only. */
export async function startNode(opts: {
  dir: string;
  logDir: string;
  bins: KubeBinaries;
  nodeKubeconfig: string;
  onDaemon: (d: Daemon) => void;
  /** Called as soon as the bridge exists, so a failed start still removes it. */
  onBridge?: (name: string) => void;
}): Promise<KubeNode> {
  const { dir, logDir, bins } = opts;
  const onBridge = opts.onBridge ?? (() => undefined);
  const d = (p: string) => {
    mkdirSync(join(dir, p), { recursive: true });
    return join(dir, p);
  };
  const runcWrap = join(d("bin"), "runc-wrap");
  writeFileSync(runcWrap, RUNC_WRAP.replace("__RUNC__", which("runc") as string), { mode: 0o755 });
  const dockerSock = join(d("docker"), "docker.sock");
  const dockerHost = `unix://${dockerSock}`;
  const ns = `warden-kube-${dir.split("/").pop()}`;
  const dockerd = startDaemon(
    "dockerd",
    "dockerd",
    [
      "--data-root",
      d("docker/data"),
      "--exec-root",
      d("docker/exec"),
      "--pidfile",
      join(dir, "docker/dockerd.pid"),
    ]
      .concat([
        "-H",
        dockerHost,
        "--bridge=none",
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
      ])
      .concat([
        "--userland-proxy=false",
        "--add-runtime",
        `wrapped=${runcWrap}`,
        "--default-runtime",
        "wrapped",
      ])
      // Own containerd namespaces too: if a system containerd is running, dockerd attaches to it.
      .concat(["--containerd-namespace", ns, "--containerd-plugins-namespace", `${ns}-plugins`]),
    logDir,
  );
  opts.onDaemon(dockerd);
  await waitFor(
    "the private dockerd",
    async () => {
      if (dockerd.exited()) throw new Error("dockerd exited");
      docker(dockerHost, ["version", "--format", "{{.Server.Version}}"]);
      return true;
    },
    60_000,
    () => dockerd.tail(),
  );
  importStaticImage(dockerHost, bins.pause, PAUSE_IMAGE);

  const cniConf = d("cni/net.d");
  const { bridge, podGateway, subnet } = createPodBridge();
  onBridge(bridge);
  writeFileSync(
    join(cniConf, "10-warden-pods.conflist"),
    JSON.stringify({
      cniVersion: "0.4.0",
      name: "warden-pods",
      plugins: [
        {
          type: "bridge",
          bridge,
          // The host address is ours (createPodBridge); the plugin must not make it the Pods' router.
          isGateway: false,
          ipMasq: false,
          ipam: {
            type: "host-local",
            subnet,
            rangeStart: subnet.replace(/0\/24$/, "10"),
            dataDir: d("cni/ipam"),
          },
        },
      ],
    }),
  );
  const kubeletDir = d("kubelet");
  // The kubelet mounts pod volumes (tmpfs tokens) under its root dir; it runs in a mount namespace of
  // its own (below), so make that dir a shared mount whose submounts reach dockerd's namespace.
  execFileSync("mount", ["--bind", kubeletDir, kubeletDir]);
  execFileSync("mount", ["--make-shared", kubeletDir]);
  const nsWrap = join(d("bin"), "kubelet-ns");
  writeFileSync(nsWrap, KUBELET_NS, { mode: 0o755 });
  const kubeletPort = await freePort();
  const kubelet = startDaemon(
    "kubelet",
    "unshare",
    ["--mount", "--propagation", "unchanged", "--", nsWrap, d("sysctl"), bins.kubelet]
      .concat([
        `--kubeconfig=${opts.nodeKubeconfig}`,
        "--hostname-override=localhost",
        "--container-runtime=docker",
      ])
      .concat([
        `--docker-endpoint=${dockerHost}`,
        `--root-dir=${kubeletDir}`,
        `--cert-dir=${d("kubelet-pki")}`,
      ])
      // Private endpoints and state, so two clusters (two test files) never share a socket or a cache.
      .concat([`--container-runtime-endpoint=unix://${join(dir, "dockershim.sock")}`])
      .concat([
        `--experimental-dockershim-root-directory=${d("dockershim")}`,
        `--cni-cache-dir=${d("cni/cache")}`,
      ])
      .concat(["--address=127.0.0.1", `--port=${kubeletPort}`, `--healthz-port=${await freePort()}`])
      .concat(["--read-only-port=0", "--healthz-bind-address=127.0.0.1"])
      .concat(["--anonymous-auth=true", "--authorization-mode=AlwaysAllow", "--fail-swap-on=false"])
      .concat(["--cgroup-driver=cgroupfs", "--cgroups-per-qos=false", "--enforce-node-allocatable="])
      .concat([
        `--pod-infra-container-image=${PAUSE_IMAGE}`,
        "--network-plugin=cni",
        `--cni-conf-dir=${cniConf}`,
      ])
      .concat(["--cni-bin-dir=/usr/lib/cni", "--image-gc-high-threshold=100", "--eviction-hard=", "--v=1"])
      // The machine's iptables stay untouched: no KUBE-FIREWALL/KUBE-MARK chains, no canary.
      .concat(["--make-iptables-util-chains=false"]),
    logDir,
  );
  opts.onDaemon(kubelet);
  return { dockerHost, dockerSock, kubeletDir, kubeletPort, bridge, podGateway, daemons: [dockerd, kubelet] };
}

/**
 * A fresh bridge `wk<hex>` holding x.1 of a 10.244.N.0/24 no route on this machine uses yet (test
 * files run in parallel, each with its own node). Never a route beyond the bridge itself.
 */
function createPodBridge(): { bridge: string; podGateway: string; subnet: string } {
  const used = execFileSync("ip", ["-4", "route", "show"], { encoding: "utf8" });
  for (let attempt = 0; attempt < 50; attempt++) {
    const n = 1 + Math.floor(Math.random() * 250);
    const subnet = `10.244.${n}.0/24`;
    if (used.includes(`10.244.${n}.`)) continue;
    const bridge = `wk${randomBytes(4).toString("hex")}`;
    execFileSync("ip", ["link", "add", bridge, "type", "bridge"]);
    try {
      execFileSync("ip", ["addr", "add", `10.244.${n}.1/24`, "dev", bridge]);
    } catch (err) {
      // Another node took this /24 between our read and now: try the next one.
      execFileSync("ip", ["link", "del", bridge]);
      if (attempt === 49) throw err;
      continue;
    }
    execFileSync("ip", ["link", "set", bridge, "up"]);
    return { bridge, podGateway: `10.244.${n}.1`, subnet };
  }
  throw new Error("no free 10.244.N.0/24 for the Pod bridge");
}

/** Removes the node's Pod bridge (and with it its address and route); gone already is fine. */
export function removePodBridge(bridge: string | undefined): void {
  if (!bridge) return;
  try {
    execFileSync("ip", ["link", "del", bridge], { stdio: "ignore" });
  } catch {
    // already removed
  }
}

/** Kubelet first (so it stops restarting pods), then every container, then dockerd and its containerd. */
export async function stopNode(
  node: KubeNode,
  dockerd: Daemon | undefined,
  kubelet: Daemon | undefined,
): Promise<void> {
  if (kubelet) await stopDaemon(kubelet);
  if (!dockerd) return;
  try {
    const ids = docker(node.dockerHost, ["ps", "-aq"]).split("\n").filter(Boolean);
    if (ids.length > 0) docker(node.dockerHost, ["rm", "-f", ...ids]);
  } catch {
    // engine already down; dockerd's own shutdown stops what is left
  }
  await stopDaemon(dockerd, 20_000);
  // dockerd starts its containerd in a process group of its own; it stops it on a clean exit, but
  // after a KILL it would be left behind. Only the pid its own state dir names, and only if the
  // command line still points into this node's exec root.
  const state = join(dirname(node.dockerSock), "exec", "containerd");
  try {
    const pid = Number(readFileSync(join(state, "containerd.pid"), "utf8").trim());
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(state)) process.kill(pid, "SIGKILL");
  } catch {
    // no pid file or already gone
  }
}
