/**
 * Kubernetes token identity, gateway side (DESIGN §8): maps the bearer token an agent Pod presents in
 * Proxy-Authorization to the agent, or to nobody. Untrusted: the token and every header it came in.
 * The cluster decides whether the token is genuine (a TokenReview, injected as `review`, so gateway/
 * stays free of agents/ and of the Kubernetes client); this file decides what it may be used for:
 * only a token for the `warden-gateway` audience, of the agents' ServiceAccount in the agents'
 * namespace, bound to a Pod that `agentOfPod` still knows under the same uid. Results are cached by
 * sha256(token), at most 10 s, so a deleted agent's token stops working within the window; a token
 * that names one agent never acts as another.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";

/** What the cluster said about a token (authentication/v1 TokenReview status, flattened). */
export interface TokenReviewResult {
  readonly authenticated: boolean;
  /** `system:serviceaccount:<namespace>:<name>` for a service-account token. */
  readonly user?: string;
  /** From user.extra `authentication.kubernetes.io/pod-name` / `pod-uid`: the Pod it is bound to. */
  readonly podName?: string;
  readonly podUid?: string;
  /** The audiences the cluster confirmed, among those asked for. */
  readonly audiences?: readonly string[];
}

export interface TokenIdentityOptions {
  /** Asks the cluster; called with the audience to insist on. Throwing counts as "not authenticated". */
  readonly review: (token: string, audiences: readonly string[]) => Promise<TokenReviewResult>;
  /** The agents' namespace and ServiceAccount (defaults warden-agents / warden-agent). */
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** The agent a live Pod of this installation runs, when `uid` matches; else undefined. */
  readonly agentOfPod: (podName: string, podUid: string) => Promise<string | undefined>;
  /** How long an answer is reused. Default and maximum 10 s; refusals are kept 1 s at most. */
  readonly cacheMs?: number;
  readonly now?: () => number;
}

export const GATEWAY_AUDIENCE = "warden-gateway";
const MAX_CACHE_MS = 10_000;
const MAX_ENTRIES = 4096;
// A projected token is a JWT: anything else is refused without asking the cluster.
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface TokenIdentity {
  /** The agent `token` belongs to, or undefined. */
  agentOf(token: string): Promise<string | undefined>;
  /** True only when `token` belongs to `agent` (the shape of Credentials.authenticate). */
  authenticate(agent: string, token: string): Promise<boolean>;
  /** The agent of a `Proxy-Authorization: Bearer …` value, or undefined. */
  identify(header: string | undefined): Promise<string | undefined>;
  /**
   * For `createListener`: the first request on a connection must carry the token and binds the
   * connection to its agent; later requests may omit it, and one naming another agent is refused.
   */
  listenerIdentity(): (req: IncomingMessage) => Promise<string | undefined>;
}

export function createTokenIdentity(opts: TokenIdentityOptions): TokenIdentity {
  const namespace = opts.namespace ?? "warden-agents";
  const user = `system:serviceaccount:${namespace}:${opts.serviceAccount ?? "warden-agent"}`;
  const ttl = Math.min(opts.cacheMs ?? MAX_CACHE_MS, MAX_CACHE_MS);
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { until: number; agent: Promise<string | undefined> }>();

  async function decide(token: string): Promise<string | undefined> {
    const r = await opts.review(token, [GATEWAY_AUDIENCE]);
    if (!r.authenticated || r.user !== user) return undefined;
    // The cluster answers with the requested audiences the token is valid for: insist on ours.
    if (!r.audiences?.includes(GATEWAY_AUDIENCE)) return undefined;
    // Only a Pod-bound token: it dies with the Pod, and the uid tells a re-created Pod apart.
    if (!r.podName || !r.podUid) return undefined;
    return opts.agentOfPod(r.podName, r.podUid);
  }

  async function agentOf(token: string): Promise<string | undefined> {
    if (!JWT.test(token)) return undefined;
    const key = createHash("sha256").update(token).digest("hex");
    const t = now();
    const hit = cache.get(key);
    if (hit && hit.until > t) return hit.agent;
    if (cache.size >= MAX_ENTRIES) {
      for (const [k, v] of cache) if (v.until <= t) cache.delete(k);
      // Still full (a flood of fresh tokens): drop the oldest rather than grow without bound.
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    }
    const agent = decide(token).catch(() => undefined);
    const entry = { until: t + ttl, agent };
    cache.set(key, entry);
    // Refusals (perhaps a Pod not yet known, or the cluster briefly away) are not kept as long.
    void agent.then((a) => {
      if (a === undefined) entry.until = Math.min(entry.until, t + Math.min(ttl, 1000));
    });
    return agent;
  }

  async function identify(header: string | undefined): Promise<string | undefined> {
    const m = /^bearer\s+(\S+)$/i.exec(header?.trim() ?? "");
    return m?.[1] ? agentOf(m[1]) : undefined;
  }

  return {
    agentOf,
    async authenticate(agent, token) {
      return (await agentOf(token)) === agent;
    },
    identify,
    listenerIdentity() {
      const bound = new WeakMap<Socket, string>();
      return async (req) => {
        const header = req.headers["proxy-authorization"];
        const was = bound.get(req.socket);
        if (header === undefined) return was;
        const agent = await identify(header);
        if (agent === undefined || (was !== undefined && was !== agent)) return undefined;
        bound.set(req.socket, agent);
        return agent;
      };
    },
  };
}
