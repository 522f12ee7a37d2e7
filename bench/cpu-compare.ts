/**
 * Before/after CPU per request with BENCH_BASELINE: this checkout's gateway and the baseline's,
 * both running, take turns at the same closed-loop keep-alive load in short slices (A B, B A, …),
 * and the ratio of their CPU per request is taken per round and reported as the median. On a
 * machine whose load drifts (other jobs, the load generator itself), two back-to-back runs of
 * several seconds can differ by a third; interleaved slices see the same drift, so their ratio is
 * what the "no more than 10 % more CPU per request" criterion reads. All on 127.0.0.1.
 */
import { type Client, createClient } from "./load.js";
import type { Peer } from "./peers.js";
import { cpuMs } from "./proc.js";
import type { Kind } from "./report.js";
import type { Upstream } from "./upstream.js";

export interface CpuComparison {
  readonly kind: Kind;
  /** Median CPU ms per request of each side over the rounds. */
  readonly current: number;
  readonly baseline: number;
  /** Median over rounds of current/baseline. */
  readonly ratio: number;
  readonly rounds: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

function client(kind: Kind, up: Upstream, peer: Peer, connections: number): Client {
  const tls = kind === "https";
  return createClient({
    scheme: tls ? "https" : "http",
    host: tls ? peer.tlsHost : peer.plainHost,
    port: tls ? up.httpsPort : up.httpPort,
    proxy: peer.proxy,
    keepAlive: true,
    maxSockets: connections,
  });
}

/** Sends `n` requests over `connections` concurrent keep-alive connections. */
async function send(c: Client, n: number, connections: number): Promise<void> {
  let left = n;
  const worker = async (): Promise<void> => {
    while (left-- > 0) await c.send();
  };
  await Promise.all(Array.from({ length: connections }, worker));
}

/** Interleaved CPU-per-request comparison of `current` and `baseline` for one keep-alive kind. */
export async function compareCpu(
  kind: "http" | "https",
  up: Upstream,
  current: Peer,
  baseline: Peer,
  opts: { rounds: number; perSlice: number; connections: number },
): Promise<CpuComparison> {
  const sides = [current, baseline].map((peer) => ({ peer, c: client(kind, up, peer, opts.connections) }));
  try {
    for (const s of sides) await send(s.c, opts.perSlice, opts.connections); // warm-up
    const per: [number[], number[]] = [[], []];
    const ratios: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const got = [0, 0];
      // Alternate who goes first, so neither side always follows the other's after-effects.
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const s = sides[i]!;
        const before = cpuMs(s.peer.pid);
        await send(s.c, opts.perSlice, opts.connections);
        got[i] = (cpuMs(s.peer.pid) - before) / opts.perSlice;
        per[i]!.push(got[i]!);
      }
      ratios.push(got[0]! / got[1]!);
    }
    return {
      kind,
      current: median(per[0]),
      baseline: median(per[1]),
      ratio: median(ratios),
      rounds: opts.rounds,
    };
  } finally {
    for (const s of sides) s.c.close();
  }
}
