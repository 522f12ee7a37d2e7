/**
 * Kubernetes token identity, gateway side (DESIGN §8): maps the bearer token an agent Pod presents in
 * Proxy-Authorization to the agent, or to nobody. Untrusted: the token and every header it came in.
 * The cluster decides whether the token is genuine (a TokenReview, injected as `review`, so gateway/
 * stays free of agents/ and of the Kubernetes client); this file decides what it may be used for:
 * only a token for the `warden-gateway` audience, of the agents' ServiceAccount in the agents'
 * namespace, bound to a Pod that `agentOfPod` still knows under the same uid. Results are cached by
 * sha256(token), at most 10 s, so a deleted agent's token stops working within the window; a token
 * that names one agent never acts as another.
 * Availability: anyone who reaches the proxy port can send tokens, so a token whose unverified claims
 * could not pass the review is refused without one, at most 16 reviews run at once (more are refused,
 * not queued), a review and Pod lookup that outlast 5 s are a refusal, and refusals never evict a
 * token that was accepted.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { z } from "zod";

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
  /** How long the review plus the Pod lookup may take before it is a refusal. Default 5 s. */
  readonly timeoutMs?: number;
  /** Reviews allowed in flight at once; above it a new token is refused. Default 16. */
  readonly maxInFlight?: number;
  readonly now?: () => number;
}

export const GATEWAY_AUDIENCE = "warden-gateway";
const MAX_CACHE_MS = 10_000;
const MAX_ENTRIES = 4096;
const SKEW_S = 60;
// A projected token is a JWT: anything else is refused without asking the cluster.
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
// The claims of a Pod-bound projected ServiceAccount token (kube-apiserver ≥ 1.12, checked on 1.20.2).
const Claims = z.object({
  aud: z.union([z.string(), z.array(z.string())]),
  sub: z.string(),
  exp: z.number(),
  "kubernetes.io": z.object({ pod: z.object({ name: z.string().min(1), uid: z.string().min(1) }) }),
});

/**
 * Whether the token's own, unverified claims could pass the review: it names our audience, our
 * ServiceAccount and a Pod, and has not expired. Only a pre-filter so junk costs no TokenReview; the
 * signature and everything else remain the cluster's to judge.
 */
function plausible(token: string, user: string, nowMs: number): boolean {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
  } catch {
    return false;
  }
  const c = Claims.safeParse(json);
  if (!c.success) return false;
  const aud = typeof c.data.aud === "string" ? [c.data.aud] : c.data.aud;
  return aud.includes(GATEWAY_AUDIENCE) && c.data.sub === user && c.data.exp + SKEW_S > nowMs / 1000;
}

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

type Entry = { until: number; agent: Promise<string | undefined> };

/** Drops expired entries, then the oldest, until `map` has room for one more. */
function makeRoom(map: Map<string, Entry>, t: number): void {
  if (map.size < MAX_ENTRIES) return;
  for (const [k, v] of map) if (v.until <= t) map.delete(k);
  while (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as string);
}

export function createTokenIdentity(opts: TokenIdentityOptions): TokenIdentity {
  const namespace = opts.namespace ?? "warden-agents";
  const user = `system:serviceaccount:${namespace}:${opts.serviceAccount ?? "warden-agent"}`;
  const ttl = Math.min(opts.cacheMs ?? MAX_CACHE_MS, MAX_CACHE_MS);
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxInFlight = opts.maxInFlight ?? 16;
  const now = opts.now ?? Date.now;
  // Accepted tokens and everything else (pending, refused) are kept apart, each bounded: a flood of
  // refusals only ever evicts refusals, never a token the cluster accepted.
  const accepted = new Map<string, Entry>();
  const other = new Map<string, Entry>();
  let inFlight = 0;

  async function decide(token: string): Promise<string | undefined> {
    const r = await opts.review(token, [GATEWAY_AUDIENCE]);
    if (!r.authenticated || r.user !== user) return undefined;
    // The cluster answers with the requested audiences the token is valid for: insist on ours.
    if (!r.audiences?.includes(GATEWAY_AUDIENCE)) return undefined;
    // Only a Pod-bound token: it dies with the Pod, and the uid tells a re-created Pod apart.
    if (!r.podName || !r.podUid) return undefined;
    return opts.agentOfPod(r.podName, r.podUid);
  }

  // An API server that accepts the connection and never answers must not hold a request (or a slot)
  // forever: after `timeoutMs` the answer is "nobody".
  function decideInTime(token: string): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    return Promise.race([decide(token).catch(() => undefined), late]).finally(() => clearTimeout(timer));
  }

  async function agentOf(token: string): Promise<string | undefined> {
    if (!JWT.test(token)) return undefined;
    const key = createHash("sha256").update(token).digest("hex");
    const t = now();
    for (const hit of [accepted.get(key), other.get(key)]) if (hit && hit.until > t) return hit.agent;
    accepted.delete(key);
    if (!plausible(token, user, t)) return undefined;
    // Fail closed rather than queue: a flood of plausible forgeries cannot stack up reviews.
    if (inFlight >= maxInFlight) return undefined;
    inFlight++;
    const agent = decideInTime(token).finally(() => {
      inFlight--;
    });
    const entry = { until: t + ttl, agent };
    makeRoom(other, t);
    other.set(key, entry);
    void agent.then((a) => {
      // Refusals (perhaps a Pod not yet known, the cluster briefly away or slow) are not kept as long.
      if (a === undefined) entry.until = Math.min(entry.until, t + Math.min(ttl, 1000));
      else {
        if (other.get(key) === entry) other.delete(key);
        makeRoom(accepted, now());
        accepted.set(key, entry);
      }
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
