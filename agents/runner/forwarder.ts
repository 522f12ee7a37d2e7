/**
 * The container's only door out. The container has no network; tools inside expect an HTTP proxy at
 * 127.0.0.1:3128, so this pipes each TCP connection byte for byte to the gateway's per-agent Unix
 * socket (the socket is the agent's identity, so nothing is added or parsed here). A failure on one
 * side destroys the other: a half-open pair would leave a client waiting forever.
 */
import net from "node:net";

/** Where to listen and where to pipe. */
export interface ForwarderOptions {
  readonly listen: { readonly host: string; readonly port: number };
  readonly socketPath: string;
  /** Called for connection-level failures (e.g. the gateway restarting); default: ignored. */
  readonly onError?: (err: Error) => void;
}

/** A running forwarder: the bound address (port 0 picks one) and a way to stop it. */
export interface Forwarder {
  readonly address: { readonly host: string; readonly port: number };
  /** Stops listening and cuts every open pair. */
  close(): Promise<void>;
}

/** Starts the TCP → Unix socket forwarder; resolves once it is listening. */
export function startForwarder(options: ForwarderOptions): Promise<Forwarder> {
  const { listen, socketPath, onError = () => {} } = options;
  const open = new Set<net.Socket>();

  const server = net.createServer(function forwardConnection(client) {
    const upstream = net.connect({ path: socketPath });
    open.add(client);
    open.add(upstream);
    // Both sides may be long-lived (long-polls, approvals held for minutes): no idle timeout here.
    client.setNoDelay(true);
    const cut = (err?: Error) => {
      if (err) onError(err);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", cut);
    upstream.on("error", cut);
    client.on("close", () => {
      open.delete(client);
      upstream.destroy();
    });
    upstream.on("close", () => {
      open.delete(upstream);
      // Let buffered bytes reach the client before closing (e.g. a 503 written just before exit).
      client.end();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });

  return listenForwarder(server, listen, open, onError);
}

/**
 * Listens on `listen`; resolves once bound with the bound address and a `close` that destroys every
 * socket in `open` (both forwarders track theirs) before the server stops.
 */
export function listenForwarder(
  server: net.Server,
  listen: { readonly host: string; readonly port: number },
  open: ReadonlySet<net.Socket>,
  onError: (err: Error) => void,
): Promise<Forwarder> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      server.on("error", onError);
      const bound = server.address() as net.AddressInfo;
      resolve({
        address: { host: bound.address, port: bound.port },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of open) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
