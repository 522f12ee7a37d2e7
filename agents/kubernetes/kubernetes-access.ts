/**
 * What `warden doctor` asks the cluster before agents run there: can the credentials be loaded, does
 * the API server answer (GET /version), does the agents' namespace exist, and may this identity do
 * every call the runtime (kubernetes-runtime.ts) and the gateway's TokenReview (token-reviewer.ts)
 * make — asked with SelfSubjectAccessReviews, so nothing is created. The kubeconfig may hold a token
 * or key: no result carries it, nor any of the file's text (a YAML error could quote it); failures are
 * reported as an error code or HTTP status. The server URL is shown as its origin only (no userinfo).
 */
import { AuthorizationV1Api, CoreV1Api, type KubeConfig, VersionApi } from "@kubernetes/client-node";
import type { Identity } from "../pod-spec.js";
import { apiStatus, apiWhy, type KubeCredentials, kubeConfig } from "./kube-config.js";

export interface KubernetesAccessOptions extends KubeCredentials {
  /** Default `warden-agents`. */
  readonly namespace?: string;
  /** Default `token`: then ConfigMaps (the CA bundle) and TokenReviews are needed too. */
  readonly identity?: Identity;
  /** Per API call; default 10 s. */
  readonly timeoutMs?: number;
}

/** One thing the runtime does, as RBAC names it. */
export interface Permission {
  readonly verb: string;
  /** "" for the core group. */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Cluster-scoped (TokenReview) rather than in the agents' namespace. */
  readonly cluster?: boolean;
}

export type KubernetesAccess =
  | { readonly kind: "config_loaded"; readonly source: ConfigSource; readonly server: string }
  | { readonly kind: "config_unusable"; readonly source: ConfigSource; readonly code: string }
  | { readonly kind: "api_reachable"; readonly server: string; readonly version: string }
  | { readonly kind: "api_unreachable"; readonly server: string; readonly code: string }
  | { readonly kind: "namespace_exists"; readonly namespace: string }
  /** `mayCreate`: the runtime creates it at the first agent (it does when it may). */
  | { readonly kind: "namespace_missing"; readonly namespace: string; readonly mayCreate: boolean }
  /** The identity may not read it (the runtime tolerates that): whether it exists is unknown. */
  | { readonly kind: "namespace_unknown"; readonly namespace: string; readonly code: string }
  | { readonly kind: "permitted"; readonly namespace: string; readonly checked: number }
  | { readonly kind: "not_permitted"; readonly namespace: string; readonly permission: Permission }
  | { readonly kind: "permissions_unchecked"; readonly code: string };

export type ConfigSource = "kubeconfig" | "in-cluster" | "default";

const CORE = "";
const NET = "networking.k8s.io";

/** Exactly what kubernetes-runtime.ts calls (and token-reviewer.ts for token identity). */
export function neededPermissions(identity: Identity): Permission[] {
  const p = (verb: string, group: string, resource: string, subresource?: string): Permission => ({
    verb,
    group,
    resource,
    ...(subresource ? { subresource } : {}),
  });
  return [
    ...["create", "get", "list", "watch", "delete"].map((v) => p(v, CORE, "pods")),
    p("get", CORE, "pods", "log"),
    // client-node's exec is a WebSocket GET: older API servers check `get`, newer ones `create`.
    p("get", CORE, "pods", "exec"),
    p("create", CORE, "pods", "exec"),
    // Created, or replaced when they exist: isolation is ensured before every Pod.
    p("create", NET, "networkpolicies"),
    p("update", NET, "networkpolicies"),
    p("create", CORE, "serviceaccounts"),
    ...(identity === "token"
      ? [
          p("create", CORE, "configmaps"),
          p("update", CORE, "configmaps"),
          { ...p("create", "authentication.k8s.io", "tokenreviews"), cluster: true },
        ]
      : []),
  ];
}

/** `create networkpolicies.networking.k8s.io`, `get pods/log`: how kubectl and RBAC rules name it. */
export function permissionName(p: Permission): string {
  const res = `${p.resource}${p.group ? `.${p.group}` : ""}${p.subresource ? `/${p.subresource}` : ""}`;
  return `${p.verb} ${res}`;
}

export async function checkKubernetesAccess(opts: KubernetesAccessOptions = {}): Promise<KubernetesAccess[]> {
  const namespace = opts.namespace ?? "warden-agents";
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const source: ConfigSource = opts.kubeconfigPath ? "kubeconfig" : opts.inCluster ? "in-cluster" : "default";
  let kc: KubeConfig;
  let server: string;
  try {
    kc = kubeConfig(opts);
    const cluster = kc.getCurrentCluster();
    if (!cluster) return [{ kind: "config_unusable", source, code: "no current cluster" }];
    server = origin(cluster.server);
  } catch (err) {
    // The code only: a parse error's message may quote the file, token included.
    return [{ kind: "config_unusable", source, code: errorCode(err, "not a valid kubeconfig") }];
  }
  const out: KubernetesAccess[] = [{ kind: "config_loaded", source, server }];
  const timed = <T>(p: Promise<T>) => withTimeout(p, timeoutMs);

  try {
    const v = await timed(kc.makeApiClient(VersionApi).getCode());
    out.push({ kind: "api_reachable", server, version: v.gitVersion });
  } catch (err) {
    out.push({ kind: "api_unreachable", server, code: reason(err) });
    return out;
  }

  const auth = kc.makeApiClient(AuthorizationV1Api);
  const may = async (p: Permission, ns: string | undefined): Promise<boolean> => {
    const r = await timed(
      auth.createSelfSubjectAccessReview({
        body: {
          spec: {
            resourceAttributes: {
              verb: p.verb,
              group: p.group,
              resource: p.resource,
              ...(p.subresource ? { subresource: p.subresource } : {}),
              ...(ns ? { namespace: ns } : {}),
            },
          },
        },
      }),
    );
    return r.status?.allowed === true;
  };

  try {
    await timed(kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace }));
    out.push({ kind: "namespace_exists", namespace });
  } catch (err) {
    const status = apiStatus(err);
    if (status === 404) {
      const mayCreate = await may({ verb: "create", group: CORE, resource: "namespaces" }, undefined).catch(
        () => false,
      );
      out.push({ kind: "namespace_missing", namespace, mayCreate });
    } else out.push({ kind: "namespace_unknown", namespace, code: reason(err) });
  }

  const needed = neededPermissions(opts.identity ?? "token");
  let answers: boolean[];
  try {
    answers = await Promise.all(needed.map((p) => may(p, p.cluster ? undefined : namespace)));
  } catch (err) {
    out.push({ kind: "permissions_unchecked", code: reason(err) });
    return out;
  }
  const missing = needed.filter((_, i) => !answers[i]);
  if (missing.length === 0) out.push({ kind: "permitted", namespace, checked: needed.length });
  for (const permission of missing) out.push({ kind: "not_permitted", namespace, permission });
  return out;
}

/** scheme://host:port only: a URL in a kubeconfig could carry userinfo or a query. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(unparsable server URL)";
  }
}

/** `HTTP 401: Unauthorized`, `ECONNREFUSED`, `timed out after 10000 ms`; never a request. */
function reason(err: unknown): string {
  if (apiStatus(err) !== undefined) return apiWhy(err);
  if (err instanceof Timeout) return err.message;
  return errorCode(err, "request failed");
}

function errorCode(err: unknown, fallback: string): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === "string" && /^[A-Z0-9_]{2,40}$/.test(code) ? code : fallback;
}

class Timeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
