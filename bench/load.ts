/**
 * The load generator: clients that send one GET and read the whole answer, either directly to the
 * upstream or through a forward proxy (absolute-form for plain HTTP; CONNECT + TLS for HTTPS,
 * trusting the proxy's interception CA), with keep-alive pools or a fresh connection per request;
 * and two ways to drive them: as fast as N concurrent connections allow (throughput), and at a fixed
 * moderate rate (latency, measured from when each request was sent).
 */
import http from "node:http";
import https from "node:https";
import { contextFor, type ProxyTarget, proxyAuthHeader, TunnelAgent } from "./tunnel.js";

export type { ProxyTarget } from "./tunnel.js";

export interface ClientSpec {
  readonly scheme: "http" | "https";
  /** Where the request goes: the Host header, and the CONNECT authority through a proxy. */
  readonly host: string;
  readonly port: number;
  /** TCP address for direct requests (the upstream), when `host` is a name nothing resolves. */
  readonly address?: string;
  /** PEM the client trusts when talking TLS directly to the upstream. */
  readonly ca?: string;
  readonly proxy?: ProxyTarget;
  /** false: one new connection (and TLS handshake) per request. */
  readonly keepAlive: boolean;
  readonly maxSockets: number;
}

export interface Client {
  send(): Promise<void>;
  close(): void;
}

/** Builds a client for `spec`; `send()` resolves once the whole response body has been read. */
export function createClient(spec: ClientSpec): Client {
  // Without keep-alive, an unbounded pool makes node send `Connection: close` (one request per socket).
  const maxSockets = spec.keepAlive ? spec.maxSockets : Number.POSITIVE_INFINITY;
  const poolOpts = { keepAlive: spec.keepAlive, maxSockets, maxFreeSockets: spec.maxSockets };
  const hostHeader = `${spec.host}:${spec.port}`;
  let agent: http.Agent;
  let options: https.RequestOptions;
  if (spec.scheme === "http") {
    agent = new http.Agent(poolOpts);
    options = spec.proxy
      ? {
          host: spec.proxy.host,
          port: spec.proxy.port,
          path: `http://${hostHeader}/`,
          headers: proxyAuthHeader(spec.proxy),
        }
      : { host: spec.address ?? spec.host, port: spec.port, path: "/" };
  } else if (spec.proxy) {
    agent = new TunnelAgent(spec.proxy, { ...poolOpts, maxCachedSessions: 0 });
    options = { host: spec.host, port: spec.port, path: "/" };
  } else {
    const secureContext = spec.ca ? contextFor(spec.ca) : undefined;
    agent = new https.Agent({ ...poolOpts, secureContext, maxCachedSessions: 0 });
    options = { host: spec.address ?? spec.host, port: spec.port, servername: spec.host, path: "/" };
  }
  const transport = spec.scheme === "https" ? https : http;
  const base = { ...options, agent, method: "GET", headers: { ...options.headers, host: hostHeader } };
  return {
    send: () =>
      new Promise<void>((resolve, reject) => {
        const req = transport.request(base, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return reject(
              new Error(`status ${res.statusCode} ${res.headers["x-warden-error"] ?? ""}`.trim()),
            );
          }
          res.on("data", () => undefined);
          res.on("end", resolve);
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end();
      }),
    close: () => agent.destroy(),
  };
}

export interface RunResult {
  /** Completed requests per second in the measured window. */
  readonly rps: number;
  /** Latencies of the requests sent in the measured window, ms, sorted ascending. */
  readonly latencies: readonly number[];
  readonly errors: number;
  readonly firstError?: string;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Window {
  readonly start: number;
  readonly end: number;
}

function recorder(window: Window) {
  const latencies: number[] = [];
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  return {
    async timed(client: Client): Promise<void> {
      const t0 = performance.now();
      try {
        await client.send();
        const t1 = performance.now();
        if (t0 >= window.start && t0 < window.end) latencies.push(t1 - t0);
        if (t1 >= window.start && t1 < window.end) done++;
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        await sleep(5); // do not spin on a dead proxy
      }
    },
    result(seconds: number): RunResult {
      latencies.sort((a, b) => a - b);
      return { rps: done / seconds, latencies, errors, ...(firstError ? { firstError } : {}) };
    },
  };
}

/** Closed loop: `concurrency` workers send back to back; measures after `warmup` s for `seconds` s. */
export async function runMax(
  client: Client,
  concurrency: number,
  warmup: number,
  seconds: number,
  probe?: () => number,
): Promise<RunResult & { probed?: number }> {
  const start = performance.now() + warmup * 1000;
  const window = { start, end: start + seconds * 1000 };
  const rec = recorder(window);
  // `probe` (e.g. a process's CPU ms) is read at the window's edges; its growth is reported.
  let before = Number.NaN;
  let after = Number.NaN;
  const timers = probe
    ? [
        setTimeout(() => (before = probe()), warmup * 1000),
        setTimeout(() => (after = probe()), (warmup + seconds) * 1000),
      ]
    : [];
  const worker = async () => {
    while (performance.now() < window.end) await rec.timed(client);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  for (const t of timers) clearTimeout(t);
  return { ...rec.result(seconds), ...(probe ? { probed: after - before } : {}) };
}

/** Requests in flight beyond which an open-loop run stops sending (the target is saturated). */
const MAX_OUTSTANDING = 256;

/**
 * Open loop at `rate` req/s: sends on schedule even while earlier requests are still out, so a slow
 * target shows up as latency. Sends skipped because MAX_OUTSTANDING were in flight are counted as
 * `shed` (the rate is above what the target sustains).
 */
export async function runRate(
  client: Client,
  rate: number,
  warmup: number,
  seconds: number,
): Promise<RunResult & { shed: number }> {
  const t0 = performance.now();
  const window = { start: t0 + warmup * 1000, end: t0 + (warmup + seconds) * 1000 };
  const rec = recorder(window);
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let shed = 0;
  while (performance.now() < window.end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      if (pending.size >= MAX_OUTSTANDING) {
        shed++;
        continue;
      }
      const p = rec.timed(client).finally(() => pending.delete(p));
      pending.add(p);
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return { ...rec.result(seconds), shed };
}
