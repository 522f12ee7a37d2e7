/**
 * The gateway's TokenReview (authentication/v1) for token identity (DESIGN §8): asks the API server
 * whether a token an agent presented is valid for the given audiences and which Pod it is bound to.
 * The token is untrusted (the agent sent it); it is passed to the API server and never returned,
 * logged or kept here. The credentials in `opts` need `system:auth-delegator`.
 */
import { AuthenticationV1Api } from "@kubernetes/client-node";
import { type KubeCredentials, kubeConfig } from "./kube-config.js";

/** Returns what gateway/token-review.ts consumes (TokenReviewResult); never the token itself. */
export function createTokenReviewer(opts: KubeCredentials) {
  const auth = kubeConfig(opts).makeApiClient(AuthenticationV1Api);
  return async (token: string, audiences: readonly string[]) => {
    const r = await auth.createTokenReview({ body: { spec: { token, audiences: [...audiences] } } });
    const extra = r.status?.user?.extra ?? {};
    return {
      authenticated: r.status?.authenticated === true,
      user: r.status?.user?.username,
      podName: extra["authentication.kubernetes.io/pod-name"]?.[0],
      podUid: extra["authentication.kubernetes.io/pod-uid"]?.[0],
      audiences: r.status?.audiences ?? [],
    };
  };
}
