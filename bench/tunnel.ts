/**
 * HTTPS through a forward proxy: a CONNECT tunnel per socket, then TLS inside it verified against
 * the proxy's interception CA, packaged as an https.Agent so node pools the tunnels (keep-alive).
 */
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

export function proxyAuthHeader(p: ProxyTarget | undefined): Record<string, string> {
  return p?.auth ? { "proxy-authorization": `Basic ${Buffer.from(p.auth).toString("base64")}` } : {};
}

const contexts = new Map<string, tls.SecureContext>();
/**
 * One client TLS context per trusted CA, made once: passing `ca` per connection makes node build a
 * new context (a copy of the whole root store) for every handshake, which would bill the load
 * generator's own overhead to the fresh-connection scenarios.
 */
export function contextFor(caPem: string): tls.SecureContext {
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
export class TunnelAgent extends https.Agent {
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
