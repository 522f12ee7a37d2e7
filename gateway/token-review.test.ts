import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { createTokenIdentity, type TokenReviewResult } from "./token-review.js";

const SA = "system:serviceaccount:warden-agents:warden-agent";
const jwt = (n: string) => `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ${n}.c2ln`;
const TOKENS: Record<string, TokenReviewResult> = {
  [jwt("alice")]: {
    authenticated: true,
    user: SA,
    podName: "p-alice",
    podUid: "u1",
    audiences: ["warden-gateway"],
  },
  [jwt("bob")]: {
    authenticated: true,
    user: SA,
    podName: "p-bob",
    podUid: "u2",
    audiences: ["warden-gateway"],
  },
  [jwt("otheraud")]: { authenticated: true, user: SA, podName: "p-alice", podUid: "u1", audiences: [] },
  [jwt("othersa")]: {
    authenticated: true,
    user: "system:serviceaccount:warden-agents:default",
    podName: "p-alice",
    podUid: "u1",
    audiences: ["warden-gateway"],
  },
  [jwt("unbound")]: { authenticated: true, user: SA, audiences: ["warden-gateway"] },
  [jwt("oldpod")]: {
    authenticated: true,
    user: SA,
    podName: "p-alice",
    podUid: "u0",
    audiences: ["warden-gateway"],
  },
};
const PODS: Record<string, { uid: string; agent: string }> = {
  "p-alice": { uid: "u1", agent: "alice" },
  "p-bob": { uid: "u2", agent: "bob" },
};

function world() {
  let t = 1_000_000;
  const asked: { token: string; audiences: readonly string[] }[] = [];
  const pods = { ...PODS };
  const identity = createTokenIdentity({
    review: async (token, audiences) => {
      asked.push({ token, audiences });
      if (token === jwt("boom")) throw new Error("apiserver down");
      return TOKENS[token] ?? { authenticated: false };
    },
    agentOfPod: async (name, uid) => (pods[name]?.uid === uid ? pods[name]?.agent : undefined),
    now: () => t,
  });
  const advance = (ms: number): void => {
    t += ms;
  };
  return { identity, asked, pods, advance };
}

describe("createTokenIdentity()", () => {
  it("maps a Pod-bound token of the agents' ServiceAccount for warden-gateway to its agent", async () => {
    const w = world();
    expect(await w.identity.agentOf(jwt("alice"))).toBe("alice");
    expect(await w.identity.identify(`Bearer ${jwt("bob")}`)).toBe("bob");
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
    expect(await world().identity.agentOf(jwt(name))).toBeUndefined();
  });

  it("refuses what is not a JWT without asking the cluster, and Basic credentials", async () => {
    const w = world();
    expect(await w.identity.agentOf("not a token")).toBeUndefined();
    expect(await w.identity.identify("Basic YWxpY2U6eA==")).toBeUndefined();
    expect(await w.identity.identify(undefined)).toBeUndefined();
    expect(w.asked).toHaveLength(0);
  });

  it("never lets one agent's token act as another", async () => {
    const w = world();
    expect(await w.identity.authenticate("alice", jwt("alice"))).toBe(true);
    expect(await w.identity.authenticate("bob", jwt("alice"))).toBe(false);
  });

  it("caches by token for at most 10 s: a deleted Pod's token stops working after the window", async () => {
    const w = world();
    expect(await w.identity.agentOf(jwt("alice"))).toBe("alice");
    delete w.pods["p-alice"];
    w.advance(9_000);
    expect(await w.identity.agentOf(jwt("alice"))).toBe("alice");
    expect(w.asked).toHaveLength(1);
    w.advance(1_001);
    expect(await w.identity.agentOf(jwt("alice"))).toBeUndefined();
    expect(w.asked).toHaveLength(2);
  });

  it("keeps a refusal at most 1 s, and asks once for concurrent uses of one token", async () => {
    const w = world();
    delete w.pods["p-bob"];
    await Promise.all([w.identity.agentOf(jwt("bob")), w.identity.agentOf(jwt("bob"))]);
    expect(w.asked).toHaveLength(1);
    w.pods["p-bob"] = { uid: "u2", agent: "bob" };
    w.advance(1_001);
    expect(await w.identity.agentOf(jwt("bob"))).toBe("bob");
  });

  it("binds a connection to the agent of its first token; another agent's token on it is refused", async () => {
    const w = world();
    const who = w.identity.listenerIdentity();
    const socket = {} as Socket;
    const req = (auth?: string) =>
      ({ socket, headers: auth ? { "proxy-authorization": auth } : {} }) as unknown as IncomingMessage;
    expect(await who(req())).toBeUndefined();
    expect(await who(req(`Bearer ${jwt("alice")}`))).toBe("alice");
    expect(await who(req())).toBe("alice");
    expect(await who(req(`Bearer ${jwt("bob")}`))).toBeUndefined();
    const fresh = { socket: {} as Socket, headers: {} } as unknown as IncomingMessage;
    expect(await who(fresh)).toBeUndefined();
  });
});
