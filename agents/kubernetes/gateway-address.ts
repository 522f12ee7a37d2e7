/**
 * The gateway's address as agent Pods must dial it: an IP. Agent Pods have no DNS (their
 * NetworkPolicy allows the gateway only, and a DNS server would be a way out), so when
 * WARDEN_K8S_GATEWAY names a host — deploy/kubernetes uses the `warden-gateway.warden.svc` Service —
 * Warden resolves it itself, in its own Pod, before creating any Pod or NetworkPolicy, and hands the
 * IP to both. The name comes from Warden's own settings, not from an agent; a failed lookup stops
 * the start as `RuntimeUnavailable` naming the host, and no Pod is created.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { HostPort } from "../pod-spec.js";
import { RuntimeUnavailable } from "../runtime.js";

/** Resolves a host name to one IP address (tests inject one; the default is the system resolver). */
export type Lookup = (host: string) => Promise<string>;

/** The first address the system resolver gives (getaddrinfo order, as a client would dial it). */
export const systemLookup: Lookup = async (host) => (await dnsLookup(host)).address;

/** `gateway` with its host replaced by an IP; an IP host is returned as it is, without a lookup. */
export async function resolveGateway(gateway: HostPort, lookup: Lookup = systemLookup): Promise<HostPort> {
  if (isIP(gateway.host)) return gateway;
  let address: string;
  try {
    address = await lookup(gateway.host);
  } catch (err) {
    throw new RuntimeUnavailable(
      `gateway ${gateway.host}`,
      `cannot resolve the gateway host ${gateway.host} (${code(err)}); agent Pods have no DNS and need its IP`,
      { cause: err },
    );
  }
  if (!isIP(address))
    throw new RuntimeUnavailable(
      `gateway ${gateway.host}`,
      `the gateway host ${gateway.host} did not resolve to an IP address`,
    );
  return { host: address, port: gateway.port };
}

/** `resolveGateway` once, at the first call; a failed lookup is not kept, the next call tries again. */
export function gatewayResolver(gateway: HostPort, lookup?: Lookup): () => Promise<HostPort> {
  let resolved: Promise<HostPort> | undefined;
  return () => {
    resolved ??= resolveGateway(gateway, lookup).catch((err) => {
      resolved = undefined;
      throw err;
    });
    return resolved;
  };
}

function code(err: unknown): string {
  const c = (err as { code?: unknown } | undefined)?.code;
  return typeof c === "string" && /^[A-Z0-9_]{2,40}$/.test(c) ? c : "lookup failed";
}
