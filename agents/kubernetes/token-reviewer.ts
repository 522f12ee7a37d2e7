/**
 * The gateway's TokenReview (authentication/v1) for token identity (DESIGN §8): asks the API server
 * whether a token an agent presented is valid for the given audiences and which Pod it is bound to.
 * The token is untrusted (the agent sent it); it is passed to the API server and never returned,
 * logged or kept here. The credentials in `opts` need `system:auth-delegator`.
 */
import { AuthenticationV1Api, Observable, type ObservableMiddleware } from "@kubernetes/client-node";
import { type KubeCredentials, kubeConfig } from "./kube-config.js";

export interface TokenReviewerOptions extends KubeCredentials {
  /** Aborts a review the API server has not answered in this time (default 5 s). */
  readonly timeoutMs?: number;
}

/** Returns what gateway/token-review.ts consumes (TokenReviewResult); never the token itself. */
export function createTokenReviewer(opts: TokenReviewerOptions) {
  const auth = kubeConfig(opts).makeApiClient(AuthenticationV1Api);
  // gateway/token-review.ts stops waiting after its own timeout; aborting the request here as well
  // frees the socket instead of leaving a silent API server's connections open behind it.
  const timeout: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(AbortSignal.timeout(opts.timeoutMs ?? 5_000));
      return new Observable(Promise.resolve(ctx));
    },
    post: (ctx) => new Observable(Promise.resolve(ctx)),
  };
  return async (token: string, audiences: readonly string[]) => {
    const r = await auth.createTokenReview(
      { body: { spec: { token, audiences: [...audiences] } } },
      { middleware: [timeout], middlewareMergeStrategy: "append" },
    );
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
