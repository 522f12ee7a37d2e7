/**
 * The load generator: clients that send one GET and read the whole answer, either directly to the
 * upstream or through a forward proxy (absolute-form for plain HTTP; CONNECT + TLS for HTTPS,
 * trusting the proxy's interception CA), with keep-alive pools or a fresh connection per request;
 * and two ways to drive them: as fast as N concurrent connections allow (throughput), and at a fixed
 * moderate rate (latency, measured from when each request was sent).
 */
import http from "node:http";
import https from "node:https";
import net, { isIP } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
  /** `user:password` for Proxy-Authorization: Basic, when the proxy wants it. */
  readonly auth?: string;
  /** PEM of the proxy's interception CA. */
  readonly ca: string;
}

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

function proxyAuthHeader(p: ProxyTarget | undefined): Record<string, string> {
  return p?.auth ? { "proxy-authorization": `Basic ${Buffer.from(p.auth).toString("base64")}` } : {};
}

const contexts = new Map<string, tls.SecureContext>();
/**
 * One client TLS context per trusted CA, made once: passing `ca` per connection makes node build a
 * new context (a copy of the whole root store) for every handshake, which would bill the load
 * generator's own overhead to the fresh-connection scenarios.
 */
function contextFor(caPem: string): tls.SecureContext {
  let ctx = contexts.get(caPem);
  if (!ctx) {
    ctx = tls.createSecureContext({ ca: caPem });
    contexts.set(caPem, ctx);
  }
  return ctx;
}

type Callback = (err: Error | null, socket?: net.Socket) => void;

/** Opens a CONNECT tunnel through `proxy` to `authority`, then TLS inside it (verified). */
export function connectThrough(proxy: ProxyTarget, host: string, port: number, cb: Callback): void {
  const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const raw = net.connect({ host: proxy.host, port: proxy.port, noDelay: true });
  let buffered = Buffer.alloc(0);
  const fail = (err: Error) => {
    raw.destroy();
    cb(err);
  };
  raw.once("error", fail);
  raw.once("connect", () => {
    const headers = Object.entries({ host: authority, ...proxyAuthHeader(proxy) })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    raw.write(`CONNECT ${authority} HTTP/1.1\r\n${headers}\r\n`);
  });
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end < 0) return;
    raw.off("data", onData);
    raw.pause();
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(buffered.subarray(0, end).toString("latin1"));
    if (status?.[1] !== "200")
      return fail(new Error(`CONNECT ${authority} answered: ${buffered.toString("latin1", 0, end)}`));
    const rest = buffered.subarray(end + 4);
    if (rest.length > 0) raw.unshift(rest);
    raw.off("error", fail);
    const socket = tls.connect({
      socket: raw,
      secureContext: contextFor(proxy.ca),
      servername: isIP(host) ? undefined : host,
      // For an IP literal, check the certificate against the IP (servername is not sent then).
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
      ALPNProtocols: ["http/1.1"],
    });
    cb(null, socket);
  };
  raw.on("data", onData);
}

/** An https.Agent whose sockets are CONNECT tunnels through a proxy (one CONNECT per socket). */
class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: ProxyTarget,
    options: https.AgentOptions,
  ) {
    super(options);
  }
  override createConnection(
    options: https.RequestOptions,
    cb?: (err: Error | null, s: Duplex) => void,
  ): undefined {
    connectThrough(this.proxy, String(options.host), Number(options.port), (err, socket) =>
      cb?.(err, socket!),
    );
    return undefined;
  }
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
): Promise<RunResult> {
  const start = performance.now() + warmup * 1000;
  const window = { start, end: start + seconds * 1000 };
  const rec = recorder(window);
  const worker = async () => {
    while (performance.now() < window.end) await rec.timed(client);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return rec.result(seconds);
}

/** Open loop at `rate` req/s (sends on schedule even while earlier requests are still out). */
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
