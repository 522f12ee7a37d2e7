/**
 * The one file that imports `undici` (6.x, the line Node 20's own fetch is built on): its `fetch` and
 * a `ProxyAgent` configured the way a container's Node program would be, from the proxy URL the
 * gateway put in the agent's env and the Warden CA. With its defaults ProxyAgent tunnels EVERY
 * origin through CONNECT, `http://` included (plain HTTP inside the tunnel).
 */
import { fetch as undiciFetch, ProxyAgent } from "undici";

export type { Dispatcher } from "undici";
/** undici's own fetch: the SDKs are given this one so that the dispatcher below is honoured. */
export const fetch = undiciFetch;

/** A ProxyAgent for the agent's `HTTPS_PROXY`, trusting only the Warden CA for intercepted TLS. */
export function agentProxy(env: Record<string, string>, caPem: string): ProxyAgent {
  const uri = env.HTTPS_PROXY ?? env.https_proxy;
  if (!uri) throw new Error("the agent env has no HTTPS_PROXY");
  return new ProxyAgent({ uri, requestTls: { ca: caPem } });
}
