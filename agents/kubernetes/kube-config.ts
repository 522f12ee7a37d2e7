/**
 * Where Warden's Kubernetes credentials come from (a kubeconfig file, the in-cluster ServiceAccount, or
 * the library's default) and how an API refusal is told apart and described. Shared by the runtime,
 * the gateway's TokenReview and `warden doctor`. The kubeconfig file is trusted as the operator's; the
 * API server's error bodies are not: only the HTTP status and the server's `message` field are kept,
 * never the request (which carries the bearer token).
 */
import { ApiException, KubeConfig } from "@kubernetes/client-node";

/** Where the credentials are: `kubeconfigPath` (the CLI passes KUBECONFIG), else in-cluster, else default. */
export interface KubeCredentials {
  readonly kubeconfigPath?: string;
  readonly inCluster?: boolean;
}

export function kubeConfig(o: KubeCredentials): KubeConfig {
  const kc = new KubeConfig();
  if (o.kubeconfigPath) kc.loadFromFile(o.kubeconfigPath);
  else if (o.inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** The HTTP status of an API refusal, undefined for anything else (network, TLS, a bug). */
export const apiStatus = (err: unknown): number | undefined =>
  err instanceof ApiException ? err.code : undefined;

/** `HTTP 403: <the server's message>` for an API refusal, else the error's own message. */
export const apiWhy = (err: unknown): string => {
  if (!(err instanceof ApiException)) return (err as Error).message;
  const m = (err.body as { message?: string } | string | undefined) ?? "";
  const msg = typeof m === "string" ? (safeJson(m)?.message ?? "") : (m.message ?? "");
  return `HTTP ${err.code}${msg ? `: ${msg}` : ""}`;
};

const safeJson = (s: string): { message?: string } | undefined => {
  try {
    return JSON.parse(s) as { message?: string };
  } catch {
    return undefined;
  }
};
