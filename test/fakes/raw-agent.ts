/**
 * A raw agent: writes exact bytes to the gateway, either directly (absolute-form requests) or inside
 * a CONNECT tunnel (TLS-intercepted, trusting only the Warden CA, or plain HTTP), and collects every
 * byte the gateway answers until it closes the connection or goes quiet.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { basicAuth, type ProxyTarget } from "./proxy-client.js";

/** How the bytes reach the gateway. */
export type RawMode =
  | { readonly kind: "absolute" }
  | { readonly kind: "tls-tunnel"; readonly authority: string }
  | { readonly kind: "plain-tunnel"; readonly authority: string };

export interface RawAnswer {
  /** Everything the gateway sent after the tunnel was set up. */
  readonly text: string;
  /** True when the gateway closed the connection before the quiet period ended. */
  readonly closed: boolean;
  /** Status codes of every response head seen, in order. */
  readonly statuses: number[];
  /** `x-warden-error` values seen, in order. */
  readonly errors: string[];
}

export interface RawSendOptions {
  readonly mode: RawMode;
  /** Sent as is; several parts are written with `gapMs` between them. */
  readonly parts: readonly (string | Buffer)[];
  readonly gapMs?: number;
  /** Stop collecting after this long without a byte (default 1500 ms). */
  readonly quietMs?: number;
  /** Give up after this long in total (default 20 s). */
  readonly maxMs?: number;
}

/** `Proxy-Authorization: …\r\n` for raw request heads. */
export function authLine(agent: string, token: string): string {
  return `Proxy-Authorization: ${basicAuth(agent, token)}\r\n`;
}

/** Opens a socket to the gateway in the given mode (tunnel set up, TLS done). */
export async function openRaw(gw: ProxyTarget, mode: RawMode, auth: string): Promise<Socket> {
  const tcp = netConnect(gw.proxy.port, gw.proxy.host);
  tcp.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    tcp.once("connect", resolve);
    tcp.once("error", reject);
  });
  if (mode.kind === "absolute") return tcp;
  tcp.write(`CONNECT ${mode.authority} HTTP/1.1\r\nHost: ${mode.authority}\r\n${auth}\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    let got = "";
    const onData = (d: Buffer): void => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) {
        tcp.off("data", onData);
        resolve(got);
      }
    };
    tcp.on("data", onData);
    tcp.once("close", () => reject(new Error(`tunnel closed: ${got}`)));
  });
  if (!head.startsWith("HTTP/1.1 200")) throw new Error(`CONNECT refused: ${head}`);
  if (mode.kind === "plain-tunnel") return tcp;
  const servername = mode.authority.replace(/:\d+$/, "");
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket: tcp, servername, ca: [gw.caPem] }, () => resolve(tls));
    tls.once("error", reject);
  });
}

/** Sends raw bytes and collects the answer. */
export async function rawSend(gw: ProxyTarget, auth: string, opts: RawSendOptions): Promise<RawAnswer> {
  const socket = await openRaw(gw, opts.mode, auth);
  return collect(socket, opts);
}

/** Writes the parts on an open socket and collects the answer. */
export function collect(socket: Socket, opts: Omit<RawSendOptions, "mode">): Promise<RawAnswer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    let closed = false;
    let quiet: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(quiet);
      clearTimeout(max);
      socket.destroy();
      const text = Buffer.concat(chunks).toString("latin1");
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      const errors = [...text.matchAll(/x-warden-error: ([a-z_]+)/gi)].map((m) => m[1] ?? "");
      resolve({ text, closed, statuses, errors });
    };
    const arm = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(finish, opts.quietMs ?? 1500);
    };
    const max = setTimeout(finish, opts.maxMs ?? 20_000);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      arm();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      closed = true;
      finish();
    });
    const parts = [...opts.parts];
    const next = (): void => {
      const part = parts.shift();
      if (part === undefined) {
        arm();
        return;
      }
      if (!socket.destroyed) socket.write(part);
      setTimeout(next, opts.gapMs ?? 50);
    };
    next();
  });
}

/** The body of the first response in `text`, chunked framing decoded (latin1). */
export function firstBody(text: string): string {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return "";
  const head = text.slice(0, end);
  let rest = text.slice(end + 4);
  if (!/\r\ntransfer-encoding: chunked/i.test(head)) return rest;
  let out = "";
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (eol < 0 || Number.isNaN(size) || size === 0) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
