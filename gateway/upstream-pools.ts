/**
 * Keep-alive pools to upstreams, one pair (http, https) per agent, so a connection to an upstream
 * carries one agent's requests only and a desync can never cross agents (DESIGN §3.1). Upstreams
 * are untrusted: a byte that arrives on a pooled socket while no request owns it (a late or extra
 * response) would be read as the answer to the next request, so such a socket is destroyed.
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";

export interface AgentPools {
  readonly http: http.Agent;
  readonly https: https.Agent;
}

export interface UpstreamPools {
  /** The pools of one agent, created on first use. */
  of(agent: string): AgentPools;
  /** Call when a pooled socket is handed to a request: it may read again. */
  claim(socket: Socket): void;
  /** Number of agents with a pool (for tests and metrics). */
  readonly size: number;
  destroy(): void;
}

const POOL_OPTIONS = {
  keepAlive: true,
  noDelay: true,
  // Per agent and scheme; the listener caps an agent's own connections well below this.
  maxSockets: 64,
  maxFreeSockets: 16,
  // Idle pooled sockets are closed after this long (Node destroys free sockets on timeout).
  timeout: 15_000,
  scheduling: "lifo" as const,
};
const SWEEP_MS = 60_000;

/** Creates the per-agent pools; `secureContext` holds the trusted roots for upstream TLS. */
export function createUpstreamPools(secureContext: SecureContext): UpstreamPools {
  const pools = new Map<string, AgentPools>();
  const guards = new WeakMap<Socket, () => void>();

  // A free socket must stay silent until it is handed out again; anything it says is stray.
  const guard = (pool: http.Agent): void => {
    pool.on("free", (socket: Socket) => {
      if (guards.has(socket)) return;
      const stray = (): void => {
        guards.delete(socket);
        socket.destroy();
      };
      guards.set(socket, stray);
      socket.on("data", stray);
    });
  };

  const sweep = setInterval(() => {
    for (const [name, p] of pools) {
      const busy = [p.http, p.https].some(
        (a) => Object.keys(a.sockets).length > 0 || Object.keys(a.freeSockets).length > 0,
      );
      if (!busy) pools.delete(name);
    }
  }, SWEEP_MS);
  sweep.unref();

  return {
    of(agent) {
      let p = pools.get(agent);
      if (!p) {
        p = {
          http: new http.Agent(POOL_OPTIONS),
          https: new https.Agent({ ...POOL_OPTIONS, secureContext }),
        };
        guard(p.http);
        guard(p.https);
        pools.set(agent, p);
      }
      return p;
    },
    claim(socket) {
      const stray = guards.get(socket);
      if (!stray) return;
      guards.delete(socket);
      socket.off("data", stray);
    },
    get size() {
      return pools.size;
    },
    destroy() {
      clearInterval(sweep);
      for (const p of pools.values()) {
        p.http.destroy();
        p.https.destroy();
      }
      pools.clear();
    },
  };
}
