/**
 * Where the Kubernetes test binaries are, and whether a real cluster can run here. The binaries
 * (kube-apiserver, kubelet, the static pause) are built once from Debian's `kubernetes` source package
 * by scripts/kube-binaries.sh and cached OUTSIDE the repo; etcd, runc, jq and the CNI plugins come from
 * Debian packages. `requireKube()` follows the project rule for real servers: with CI set a missing
 * piece is an error (CI must not skip), elsewhere it is a printed skip reason.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";

export const KUBE_VERSION = "v1.20.2";

export interface KubeBinaries {
  readonly cacheDir: string;
  readonly apiserver: string;
  readonly kubelet: string;
  /** Static pause binary: the pod sandbox image is built FROM scratch around it. */
  readonly pause: string;
  readonly etcd: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a command on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The cached binaries, or the reason they are not usable. */
export function kubeBinaries(): KubeBinaries | { missing: string } {
  const cacheDir = process.env.WARDEN_KUBE_CACHE || `/var/cache/warden/kube-${KUBE_VERSION}`;
  const bin = (name: string) => join(cacheDir, "bin", name);
  const absent = ["kube-apiserver", "kubelet", "pause"].filter((b) => !executable(bin(b)));
  if (absent.length > 0)
    return {
      missing: `${absent.join(", ")} not in ${cacheDir}/bin (run scripts/kube-binaries.sh, ≈13 min once)`,
    };
  const etcd = which("etcd");
  if (!etcd) return { missing: "etcd not installed (apt-get install etcd-server)" };
  return { cacheDir, apiserver: bin("kube-apiserver"), kubelet: bin("kubelet"), pause: bin("pause"), etcd };
}

/** What a kubelet node also needs: root, Docker (daemon, CLI, a running main engine), runc, jq, CNI loopback. */
function nodeMissing(): string | undefined {
  if (process.getuid?.() !== 0) return "the kubelet needs root";
  for (const cmd of ["dockerd", "docker", "runc", "jq", "tar", "unshare", "mount"])
    if (!which(cmd)) return `${cmd} not installed`;
  if (!executable("/usr/lib/cni/loopback"))
    return "CNI plugins missing (apt-get install containernetworking-plugins)";
  // Test images are built on the main engine and copied into the node's private one (loadImage).
  try {
    execFileSync("docker", ["info", "--format", "{{.ServerVersion}}"], { stdio: "pipe", timeout: 10_000 });
  } catch {
    return "the main Docker engine does not answer (test images are built there)";
  }
  return undefined;
}

/**
 * Undefined when a cluster (with a kubelet node, if asked) can start here; otherwise the skip reason.
 * With CI set it throws instead, so a CI run never silently skips the Kubernetes tests.
 */
export function requireKube(opts: { kubelet?: boolean } = {}): string | undefined {
  const bins = kubeBinaries();
  const why = "missing" in bins ? bins.missing : opts.kubelet ? nodeMissing() : undefined;
  if (why && process.env.CI)
    throw new Error(`Kubernetes test cluster unavailable: ${why}; CI must run these tests`);
  return why;
}
