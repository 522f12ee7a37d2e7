/**
 * `warden doctor` with WARDEN_RUNTIME=kubernetes: the credentials load, the API server answers, the
 * agents' namespace exists (or will be created), this identity may make every call the runtime and
 * the gateway's TokenReview make (each missing one named, verb + resource), WARDEN_AGENT_IMAGE and,
 * for token identity, WARDEN_K8S_GATEWAY are set; and a reminder that NetworkPolicies isolate only
 * where the network plugin enforces them, which Warden cannot see. The kubeconfig and the cluster's
 * answers are untrusted text: no token or file content is printed (agents/kubernetes/ reduces
 * failures to codes), the server is shown as its origin only.
 */
import {
  checkKubernetesAccess,
  type KubernetesAccess,
  neededPermissions,
  permissionName,
} from "../agents/kubernetes/kubernetes-access.js";
import type { Identity } from "../agents/pod-spec.js";
import type { Check } from "./doctor-checks.js";
import type { KubernetesSettings } from "./start.js";

const ITEM = "kubernetes";
const ROLE = "deploy/kubernetes/20-rbac.yaml has the Role and bindings Warden needs";
const ENFORCING = "Calico, Cilium, Antrea, kube-router; not flannel alone";

export async function checkKubernetes(
  settings: KubernetesSettings | undefined,
  opts: { timeoutMs?: number } = {},
): Promise<Check[]> {
  if (!settings) return [{ status: "ok", item: "runtime", message: "agents run on Docker" }];
  const identity = settings.identity ?? "token";
  const namespace = settings.namespace ?? "warden-agents";
  const access = await checkKubernetesAccess({ ...settings, namespace, identity, ...opts });
  return [
    ...access.flatMap((a) => toChecks(a, settings)),
    ...permissionChecks(access, identity),
    ...settingChecks(settings, identity),
  ];
}

function toChecks(a: KubernetesAccess, s: KubernetesSettings): Check[] {
  const from =
    a.kind === "config_loaded" || a.kind === "config_unusable"
      ? a.source === "kubeconfig"
        ? `kubeconfig ${s.kubeconfigPath}`
        : a.source === "in-cluster"
          ? "the in-cluster ServiceAccount"
          : "the default kubeconfig (~/.kube/config)"
      : "";
  switch (a.kind) {
    case "config_loaded":
      return [{ status: "ok", item: ITEM, message: `${from} loaded (API server ${a.server})` }];
    case "config_unusable":
      return [
        {
          status: "fail",
          item: ITEM,
          message: `cannot load ${from} (${a.code})`,
          fix: "set KUBECONFIG to a readable kubeconfig file, or run Warden in the cluster with its ServiceAccount",
        },
      ];
    case "api_reachable":
      return [{ status: "ok", item: ITEM, message: `API server ${a.server} answers (${a.version})` }];
    case "api_unreachable":
      return [
        {
          status: "fail",
          item: ITEM,
          message: `API server ${a.server} not usable (${a.code})`,
          fix: a.code.startsWith("HTTP 401")
            ? "the kubeconfig's credentials were refused: renew the token or certificate"
            : "check the server address in the kubeconfig and that this machine reaches it",
        },
      ];
    case "namespace_exists":
      return [{ status: "ok", item: ITEM, message: `namespace ${a.namespace} exists` }];
    case "namespace_missing":
      return [
        a.mayCreate
          ? {
              status: "ok",
              item: ITEM,
              message: `namespace ${a.namespace} does not exist yet; the first agent creates it`,
            }
          : {
              status: "fail",
              item: ITEM,
              message: `namespace ${a.namespace} does not exist and this identity may not create it`,
              fix: `kubectl create namespace ${a.namespace} (or apply deploy/kubernetes/00-namespaces.yaml), or set WARDEN_K8S_NAMESPACE`,
            },
      ];
    case "namespace_unknown":
      return [
        {
          status: "warn",
          item: ITEM,
          message: `cannot tell whether namespace ${a.namespace} exists (${a.code})`,
          fix: `grant get on namespaces/${a.namespace} (${ROLE}), or make sure it exists`,
        },
      ];
    case "permitted":
      return [
        {
          status: "ok",
          item: ITEM,
          message: `this identity may do all ${a.checked} things the runtime needs in ${a.namespace}`,
        },
      ];
    case "not_permitted":
      return []; // see permissionChecks
    case "permissions_unchecked":
      return [
        {
          status: "warn",
          item: ITEM,
          message: `cannot ask the API server what this identity may do (${a.code})`,
          fix: `make sure it may do what the runtime needs (${ROLE})`,
        },
      ];
  }
}

/** One line per missing permission; one line in all when none is granted in the namespace. */
function permissionChecks(access: readonly KubernetesAccess[], identity: Identity): Check[] {
  const missing = access.flatMap((a) => (a.kind === "not_permitted" ? [a] : []));
  const inNamespace = missing.filter((m) => !m.permission.cluster);
  const namespace = missing[0]?.namespace ?? "";
  const lines: Check[] = [];
  // Nothing at all allowed there: usually no Role bound (or no namespace); one line, not fifteen.
  if (
    inNamespace.length > 1 &&
    inNamespace.length === neededPermissions(identity).filter((p) => !p.cluster).length
  )
    lines.push({
      status: "fail",
      item: ITEM,
      message: `may do none of what the runtime needs in ${namespace}: ${inNamespace.map((m) => permissionName(m.permission)).join(", ")}`,
      fix: `bind the runtime's Role in ${namespace} to this identity (${ROLE})`,
    });
  else
    for (const m of inNamespace)
      lines.push({
        status: "fail",
        item: ITEM,
        message: `may not ${permissionName(m.permission)} in ${namespace}`,
        fix: `grant it in ${namespace} (${ROLE})`,
      });
  for (const m of missing.filter((x) => x.permission.cluster))
    lines.push({
      status: "fail",
      item: ITEM,
      message: `may not ${permissionName(m.permission)} cluster-wide (the gateway's TokenReview, token identity)`,
      fix: "bind this identity to a ClusterRole allowing create tokenreviews (deploy/kubernetes/20-rbac.yaml's warden-tokenreview)",
    });
  return lines;
}

function settingChecks(s: KubernetesSettings, identity: Identity): Check[] {
  const out: Check[] = [
    s.image
      ? { status: "ok", item: ITEM, message: `agent image ${s.image} (WARDEN_AGENT_IMAGE)` }
      : {
          status: "fail",
          item: ITEM,
          message: "WARDEN_AGENT_IMAGE is not set; Pods need an image the cluster can pull",
          fix: "warden image build --tag REGISTRY/warden-agent:TAG, docker push it, set WARDEN_AGENT_IMAGE to it",
        },
  ];
  if (identity === "token")
    out.push(
      s.gateway
        ? {
            status: "ok",
            item: ITEM,
            message: `agent Pods reach the gateway at ${s.gateway.host}:${s.gateway.port} (WARDEN_K8S_GATEWAY)`,
          }
        : {
            status: "fail",
            item: ITEM,
            message: "WARDEN_K8S_GATEWAY is not set; token identity needs where Pods reach this gateway",
            fix: "set WARDEN_K8S_GATEWAY=IP:PORT (an address Pods reach; listen on it with --listen)",
          },
    );
  else
    out.push({
      status: "ok",
      item: ITEM,
      message: "socket identity: the gateway serves agents on this node",
    });
  out.push({
    status: "warn",
    item: ITEM,
    message: "Warden cannot tell whether this cluster's network plugin enforces NetworkPolicies",
    fix: `use one that does (${ENFORCING}); without it agent Pods are not isolated`,
  });
  return out;
}
