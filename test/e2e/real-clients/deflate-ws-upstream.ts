/**
 * A hostile `wss://` upstream that would accept permessage-deflate (the shared recording upstream
 * would not) and compress every message, so a test sees whether an offer survives the gateway.
 * It echoes what it gets; on the text "leak" it sends the Authorization value it received back:
 * as a text message, a binary one, and a text message split across two fragments with the value
 * cut in the middle. The gateway must turn every one of them into the placeholder.
 */
import type { IncomingHttpHeaders } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import type { LeafPair } from "../../fakes/test-ca.js";

export interface DeflateUpstream {
  readonly port: number;
  /** Handshake headers, in order. */
  readonly handshakes: IncomingHttpHeaders[];
  /** The `Sec-WebSocket-Extensions` each handshake answered with. */
  readonly negotiated: string[];
  close(): Promise<void>;
}

export async function startDeflateUpstream(leaf: LeafPair): Promise<DeflateUpstream> {
  const server = createServer({ cert: leaf.cert, key: leaf.key });
  const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });
  const handshakes: IncomingHttpHeaders[] = [];
  const negotiated: string[] = [];
  wss.on("headers", (headers) => {
    negotiated.push(headers.find((h) => /^sec-websocket-extensions:/i.test(h)) ?? "");
  });
  wss.on("connection", (ws, req) => {
    handshakes.push(req.headers);
    ws.on("message", (data, isBinary) => {
      if (isBinary || data.toString() !== "leak") {
        ws.send(data, { binary: isBinary });
        return;
      }
      const auth = req.headers.authorization ?? "";
      const cut = Math.floor(auth.length / 2);
      ws.send(`you sent ${auth}`);
      ws.send(Buffer.from(`binary ${auth}`), { binary: true });
      ws.send(`split ${auth.slice(0, cut)}`, { fin: false });
      ws.send(`${auth.slice(cut)} end`, { fin: true });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    handshakes,
    negotiated,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
