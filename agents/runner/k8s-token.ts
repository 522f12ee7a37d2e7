/**
 * The Pod's door out in Kubernetes token identity (DESIGN §8). Tools inside expect an HTTP proxy at
 * 127.0.0.1:3128, as in Docker; instead of a Unix socket, each connection goes over TCP to the gateway
 * at WARDEN_K8S_GATEWAY, and its first request head (CONNECT or an absolute-form request) carries
 * `Proxy-Authorization: Bearer <token>`: the projected service-account token for the `warden-gateway`
 * audience, re-read from its file for EVERY connection, because the kubelet rotates it. Whatever
 * Proxy-Authorization the client sent is dropped, so the token presented is always the Pod's own.
 * The gateway binds the connection to the agent the token names; later requests on a kept-alive
 * connection are not rewritten (the connection is the identity, as with the socket).
 */
import { readFile } from "node:fs/promises";
import net from "node:net";
import { type Forwarder, listenForwarder } from "./forwarder.js";

export interface TokenForwarderOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly gateway: { readonly host: string; readonly port: number };
  /** The projected token's path (WARDEN_K8S_TOKEN_FILE). */
  readonly tokenFile: string;
  readonly onError?: (err: Error) => void;
}

/** A request head larger than this is refused: Node's own limit is 16 KiB. */
const MAX_HEAD = 64 * 1024;
const END = Buffer.from("\r\n\r\n");
// A JWT is base64url segments joined by dots: nothing else may go into a header line.
const TOKEN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Reads the current token; throws when the file is missing, empty or not a token. */
export async function readGatewayToken(path: string): Promise<string> {
  const token = (await readFile(path, "utf8")).trim();
  if (!TOKEN.test(token)) throw new Error(`${path} holds no token`);
  return token;
}

/** `head` (through its blank line) with every Proxy-Authorization replaced by the bearer token. */
export function withBearer(head: string, token: string): string {
  const lines = head.slice(0, head.length - 4).split("\r\n");
  const kept = lines.filter((line, i) => i === 0 || !/^proxy-authorization\s*:/i.test(line));
  kept.splice(1, 0, `Proxy-Authorization: Bearer ${token}`);
  return `${kept.join("\r\n")}\r\n\r\n`;
}

function refuse(client: net.Socket, message: string): void {
  const body = JSON.stringify({ error: { code: "gateway_token_unavailable", message } });
  client.end(
    `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Starts the TCP → gateway forwarder; resolves once it is listening. */
export function startTokenForwarder(options: TokenForwarderOptions): Promise<Forwarder> {
  const { listen, gateway, tokenFile, onError = () => {} } = options;
  const open = new Set<net.Socket>();

  // allowHalfOpen: a client that sends its request and half-closes while the token is being read
  // must still have it delivered (the pipe ends the upstream side in turn).
  const server = net.createServer({ allowHalfOpen: true }, function forwardConnection(client) {
    open.add(client);
    client.setNoDelay(true);
    client.on("close", () => open.delete(client));
    client.on("error", (err) => {
      onError(err);
      client.destroy();
    });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(END);
      if (end < 0) {
        if (buffered.length > MAX_HEAD) client.destroy();
        return;
      }
      client.off("data", onData);
      client.pause();
      const head = buffered.subarray(0, end + END.length).toString("latin1");
      const rest = buffered.subarray(end + END.length);
      void readGatewayToken(tokenFile).then(
        (token) => pipe(client, Buffer.from(withBearer(head, token), "latin1"), rest),
        (err: Error) => {
          onError(err);
          refuse(client, "the Pod's gateway token is not readable");
        },
      );
    };
    client.on("data", onData);
  });

  function pipe(client: net.Socket, head: Buffer, rest: Buffer): void {
    if (client.destroyed) return;
    const upstream = net.connect({ host: gateway.host, port: gateway.port });
    open.add(upstream);
    upstream.setNoDelay(true);
    upstream.on("error", (err) => {
      onError(err);
      client.destroy();
    });
    upstream.on("close", () => {
      open.delete(upstream);
      // Let buffered bytes reach the client before closing (e.g. a 503 written just before exit).
      client.end();
    });
    client.on("close", () => upstream.destroy());
    upstream.write(head);
    if (rest.length > 0) upstream.write(rest);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  return listenForwarder(server, listen, open, onError);
}
