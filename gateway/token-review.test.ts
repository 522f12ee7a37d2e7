import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { createTokenIdentity, type TokenIdentityOptions, type TokenReviewResult } from "./token-review.js";

const SA = "system:serviceaccount:warden-agents:warden-agent";
const NOW = Date.UTC(2026, 0, 1);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
/** A token shaped like a v1.20 projected one (unsigned: the fake review is the authority here). */
const mint = (n: string, over: Record<string, unknown> = {}) =>
  `${b64({ alg: "RS256" })}.${b64({
    aud: ["warden-gateway"],
    sub: SA,
    exp: NOW / 1000 + 3600,
    iat: NOW / 1000,
    "kubernetes.io": { namespace: "warden-agents", pod: { name: `p-${n}`, uid: "u" }, serviceaccount: {} },
    n,
    ...over,
  })}.c2ln`;
const ok = (podName: string, podUid: string): TokenReviewResult => ({
  authenticated: true,
  user: SA,
  podName,
  podUid,
  audiences: ["warden-gateway"],
});
const TOKENS: Record<string, TokenReviewResult> = {
  [mint("alice")]: ok("p-alice", "u1"),
  [mint("bob")]: ok("p-bob", "u2"),
  [mint("otheraud")]: { ...ok("p-alice", "u1"), audiences: [] },
  [mint("othersa")]: { ...ok("p-alice", "u1"), user: "system:serviceaccount:warden-agents:default" },
  [mint("unbound")]: { authenticated: true, user: SA, audiences: ["warden-gateway"] },
  [mint("oldpod")]: ok("p-alice", "u0"),
};
const PODS: Record<string, { uid: string; agent: string }> = {
  "p-alice": { uid: "u1", agent: "alice" },
  "p-bob": { uid: "u2", agent: "bob" },
};
const never = new Promise<never>(() => undefined);

function world(o: Partial<TokenIdentityOptions> = {}) {
  let t = NOW;
  const asked: { token: string; audiences: readonly string[] }[] = [];
  const pods = { ...PODS };
  const identity = createTokenIdentity({
    review: async (token, audiences) => {
      asked.push({ token, audiences });
      if (token === mint("boom")) throw new Error("apiserver down");
      if (token === mint("silent")) return never;
      return TOKENS[token] ?? { authenticated: false };
    },
    agentOfPod: async (name, uid) => (pods[name]?.uid === uid ? pods[name]?.agent : undefined),
    now: () => t,
    ...o,
  });
  const advance = (ms: number): void => {
    t += ms;
  };
  return { identity, asked, pods, advance };
}

describe("createTokenIdentity()", () => {
  it("maps a Pod-bound token of the agents' ServiceAccount for warden-gateway to its agent", async () => {
    const w = world();
    expect(await w.identity.agentOf(mint("alice"))).toBe("alice");
    expect(await w.identity.identify(`Bearer ${mint("bob")}`)).toBe("bob");
    expect(w.asked[0]?.audiences).toEqual(["warden-gateway"]);
  });

  it.each([
    ["another audience", "otheraud"],
    ["another ServiceAccount", "othersa"],
    ["a token bound to no Pod", "unbound"],
    ["a token of an earlier Pod of the same name (other uid)", "oldpod"],
    ["a token the cluster rejects", "nobody"],
    ["a failing TokenReview", "boom"],
  ])("refuses %s", async (_what, name) => {
    expect(await world().identity.agentOf(mint(name))).toBeUndefined();
  });

  it("refuses what is not a JWT without asking the cluster, and Basic credentials", async () => {
    const w = world();
    expect(await w.identity.agentOf("not a token")).toBeUndefined();
    expect(await w.identity.identify("Basic YWxpY2U6eA==")).toBeUndefined();
    expect(await w.identity.identify(undefined)).toBeUndefined();
    expect(w.asked).toHaveLength(0);
  });

  it("10,000 junk JWT-shaped tokens cost no TokenReview", async () => {
    const w = world();
    const junk = (i: number) => {
      const r = Buffer.from(`${i}-${Math.random()}`).toString("base64url");
      const payloads = [
        r,
        b64(i),
        b64(null),
        b64([SA]),
        b64({ sub: SA }),
        b64({ aud: i, sub: SA, exp: "x" }),
      ];
      return `${r}.${payloads[i % payloads.length]}.${r}`;
    };
    for (let i = 0; i < 10_000; i++) expect(await w.identity.agentOf(junk(i))).toBeUndefined();
    expect(w.asked).toHaveLength(0);
  });

  it.each([
    ["another audience", { aud: ["not-warden"] }],
    ["another ServiceAccount", { sub: "system:serviceaccount:warden-agents:default" }],
    ["another namespace", { sub: "system:serviceaccount:elsewhere:warden-agent" }],
    ["an expired token (beyond 60 s of skew)", { exp: NOW / 1000 - 61 }],
    ["no expiry", { exp: undefined }],
    ["no Pod binding", { "kubernetes.io": { namespace: "warden-agents" } }],
    ["a Pod without uid", { "kubernetes.io": { pod: { name: "p-alice" } } }],
  ])("refuses a well-shaped token naming %s without a TokenReview", async (_what, over) => {
    const w = world();
    TOKENS[mint("alice", over)] = ok("p-alice", "u1");
    expect(await w.identity.agentOf(mint("alice", over))).toBeUndefined();
    expect(w.asked).toHaveLength(0);
  });

  it("asks the cluster about a token within the skew, or with a single-string audience", async () => {
    const w = world();
    const late = mint("alice", { exp: NOW / 1000 - 30 });
    const single = mint("alice", { aud: "warden-gateway" });
    TOKENS[late] = TOKENS[single] = ok("p-alice", "u1");
    expect(await w.identity.agentOf(late)).toBe("alice");
    expect(await w.identity.agentOf(single)).toBe("alice");
    expect(w.asked).toHaveLength(2);
  });

  it("checks the sub against the namespace the identity was created with", async () => {
    const other = "system:serviceaccount:team-a:warden-agent";
    const w = world({ namespace: "team-a", review: async () => ({ ...ok("p-alice", "u1"), user: other }) });
    expect(await w.identity.agentOf(mint("alice"))).toBeUndefined();
    expect(await w.identity.agentOf(mint("alice", { sub: other }))).toBe("alice");
  });

  it("never lets one agent's token act as another", async () => {
    const w = world();
    expect(await w.identity.authenticate("alice", mint("alice"))).toBe(true);
    expect(await w.identity.authenticate("bob", mint("alice"))).toBe(false);
  });

  it("caches by token for at most 10 s: a deleted Pod's token stops working after the window", async () => {
    const w = world();
    expect(await w.identity.agentOf(mint("alice"))).toBe("alice");
    delete w.pods["p-alice"];
    w.advance(9_000);
    expect(await w.identity.agentOf(mint("alice"))).toBe("alice");
    expect(w.asked).toHaveLength(1);
    w.advance(1_001);
    expect(await w.identity.agentOf(mint("alice"))).toBeUndefined();
    expect(await w.identity.agentOf(mint("alice"))).toBeUndefined();
    expect(w.asked).toHaveLength(2);
  });

  it("keeps a refusal at most 1 s, and asks once for concurrent uses of one token", async () => {
    const w = world();
    delete w.pods["p-bob"];
    await Promise.all([w.identity.agentOf(mint("bob")), w.identity.agentOf(mint("bob"))]);
    expect(w.asked).toHaveLength(1);
    w.pods["p-bob"] = { uid: "u2", agent: "bob" };
    w.advance(1_001);
    expect(await w.identity.agentOf(mint("bob"))).toBe("bob");
  });

  it("a flood of refused tokens never evicts an accepted one from the cache", async () => {
    const w = world();
    expect(await w.identity.agentOf(mint("alice"))).toBe("alice");
    for (let i = 0; i < 5_000; i++) expect(await w.identity.agentOf(mint(`forged${i}`))).toBeUndefined();
    expect(w.asked).toHaveLength(5_001);
    expect(await w.identity.agentOf(mint("alice"))).toBe("alice");
    expect(w.asked).toHaveLength(5_001);
  });

  it("runs at most maxInFlight reviews at once; above that a token is refused without one", async () => {
    const release: (() => void)[] = [];
    let reviews = 0;
    const w = world({
      maxInFlight: 16,
      review: (token) => {
        reviews++;
        return new Promise((r) => release.push(() => r(TOKENS[token] ?? { authenticated: false })));
      },
    });
    const pending = Array.from({ length: 16 }, (_, i) => w.identity.agentOf(mint(`slow${i}`)));
    expect(await w.identity.agentOf(mint("alice"))).toBeUndefined();
    expect(reviews).toBe(16);
    for (const r of release) r();
    expect(await Promise.all(pending)).toEqual(Array(16).fill(undefined));
    // The refusal at the cap was not cached: once slots are free the same token is reviewed.
    const alice = w.identity.agentOf(mint("alice"));
    release[16]?.();
    expect(await alice).toBe("alice");
    expect(reviews).toBe(17);
  });

  it("a review or Pod lookup that never answers is a refusal after timeoutMs, kept at most 1 s", async () => {
    const w = world({ timeoutMs: 20, maxInFlight: 1 });
    expect(await w.identity.agentOf(mint("silent"))).toBeUndefined();
    // The slot was freed by the timeout: another token is still reviewed.
    expect(await w.identity.agentOf(mint("alice"))).toBe("alice");
    w.advance(1_001);
    expect(await w.identity.agentOf(mint("silent"))).toBeUndefined();
    expect(w.asked.filter((a) => a.token === mint("silent"))).toHaveLength(2);
    const stuck = world({ timeoutMs: 20, agentOfPod: () => never });
    expect(await stuck.identity.agentOf(mint("alice"))).toBeUndefined();
  });

  it("binds a connection to the agent of its first token; another agent's token on it is refused", async () => {
    const w = world();
    const who = w.identity.listenerIdentity();
    const socket = {} as Socket;
    const req = (auth?: string) =>
      ({ socket, headers: auth ? { "proxy-authorization": auth } : {} }) as unknown as IncomingMessage;
    expect(await who(req())).toBeUndefined();
    expect(await who(req(`Bearer ${mint("alice")}`))).toBe("alice");
    expect(await who(req())).toBe("alice");
    expect(await who(req(`Bearer ${mint("bob")}`))).toBeUndefined();
    const fresh = { socket: {} as Socket, headers: {} } as unknown as IncomingMessage;
    expect(await who(fresh)).toBeUndefined();
  });
});
