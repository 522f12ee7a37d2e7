/**
 * Relays a WebSocket after the upstream's 101 by parsing every frame in both directions and
 * framing each message afresh, so upstream messages can be scrubbed before the agent sees them.
 * Untrusted: both sides. The agent's frames must be masked and valid, the upstream's unmasked and
 * valid (RFC 6455, enforced by `ws`'s Receiver); fragmented messages are joined and bounded;
 * anything unparseable, oversized or out of order closes both connections. No extension is ever
 * negotiated (the request's Sec-WebSocket-Extensions is stripped, a 101 naming one is refused),
 * so every payload byte is visible here. The only importer of `ws`.
 */
import type { Socket } from "node:net";
import * as wsLib from "ws";

/** Largest message (all fragments together) relayed either way; larger ones close both sides. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Most fragments one message may have: tiny fragments would otherwise cost a frame each. */
const MAX_FRAGMENTS = 4096;
/** How long a closing side may take to flush before its socket is destroyed. */
const LINGER_MS = 5_000;

// `ws` exports its frame parser and writer, but @types/ws does not describe them.
interface Receiver extends NodeJS.WritableStream {
  on(event: "message", f: (data: Buffer, isBinary: boolean) => void): this;
  on(event: "ping" | "pong", f: (data: Buffer) => void): this;
  on(event: "conclude", f: (code: number, reason: Buffer) => void): this;
  on(event: "error", f: (err: Error) => void): this;
}
interface Sender {
  send(data: Buffer, o: { binary: boolean; fin: boolean; mask: boolean; compress: boolean }): void;
  ping(data: Buffer, mask: boolean): void;
  pong(data: Buffer, mask: boolean): void;
  close(code: number | undefined, data: Buffer | undefined, mask: boolean): void;
}
const { Receiver, Sender } = wsLib as unknown as {
  Receiver: new (o: object) => Receiver;
  Sender: new (socket: Socket) => Sender;
};

/** Why a 101 from the upstream cannot be relayed, or undefined when it can. */
export function refuseHandshake(
  offeredProtocols: string | undefined,
  response: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  if (response["sec-websocket-extensions"] !== undefined) return "upstream negotiated an extension";
  const upgrade = String(response.upgrade ?? "").toLowerCase();
  if (upgrade !== "websocket") return "upstream switched to another protocol";
  const chosen = response["sec-websocket-protocol"];
  if (chosen === undefined) return undefined;
  const offered = (offeredProtocols ?? "").split(",").map((p) => p.trim());
  return typeof chosen === "string" && offered.includes(chosen)
    ? undefined
    : "upstream chose a subprotocol not offered";
}

/** What the relay needs: the two sockets, bytes already read past each handshake, the scrubber. */
export interface RelayEnds {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes the client sent after its handshake, read with it. */
  readonly clientHead: Buffer;
  /** Bytes the upstream sent in the same packet as its 101. */
  readonly upstreamHead: Buffer;
  /** Replaces echoed secret values in a complete message, close reason or ping payload. */
  readonly scrub: (data: Buffer) => Buffer;
}

/** Starts relaying; both sockets are closed when either side closes or breaks the protocol. */
export function relayWebSocket(ends: RelayEnds): void {
  const { client, upstream, scrub } = ends;
  const limits = { maxPayload: MAX_MESSAGE_BYTES, maxFragments: MAX_FRAGMENTS, binaryType: "nodebuffer" };
  const fromClient = new Receiver({ ...limits, isServer: true });
  const fromUpstream = new Receiver({ ...limits, isServer: false });
  const toUpstream = new Sender(upstream);
  const toClient = new Sender(client);
  let closing = false;

  const shutdown = (code?: number): void => {
    if (closing) return;
    closing = true;
    if (code !== undefined) {
      // Tell both sides why (1002 protocol error, 1007 bad UTF-8, 1009 too big), then hang up.
      for (const [s, mask] of [
        [toClient, false],
        [toUpstream, true],
      ] as const) {
        try {
          s.close(code, undefined, mask);
        } catch {
          // the socket is already gone
        }
      }
    }
    for (const s of [client, upstream]) {
      s.end();
      setTimeout(() => s.destroy(), LINGER_MS).unref();
    }
  };
  const onError = (err: Error): void => {
    const status = Object.getOwnPropertySymbols(err)
      .map((k) => (err as unknown as Record<symbol, unknown>)[k])
      .find((v): v is number => typeof v === "number");
    shutdown(status ?? 1002);
  };

  // Agent → upstream: valid masked frames, re-masked by us.
  fromClient.on("message", (data, isBinary) => {
    toUpstream.send(data, { binary: isBinary, fin: true, mask: true, compress: false });
    throttle(upstream, client);
  });
  fromClient.on("ping", (data) => toUpstream.ping(data, true));
  fromClient.on("pong", (data) => toUpstream.pong(data, true));
  fromClient.on("conclude", (code, reason) =>
    toUpstream.close(code === 1005 ? undefined : code, reason, true),
  );
  fromClient.on("error", onError);

  // Upstream → agent: every payload scrubbed before it is framed for the agent.
  fromUpstream.on("message", (data, isBinary) => {
    toClient.send(scrub(data), { binary: isBinary, fin: true, mask: false, compress: false });
    throttle(client, upstream);
  });
  fromUpstream.on("ping", (data) => toClient.ping(control(scrub(data), 125), false));
  fromUpstream.on("pong", (data) => toClient.pong(control(scrub(data), 125), false));
  fromUpstream.on("conclude", (code, reason) =>
    toClient.close(code === 1005 ? undefined : code, control(scrub(reason), 123), false),
  );
  fromUpstream.on("error", onError);

  const feed = (rx: Receiver) => (chunk: Buffer) => {
    if (!closing) rx.write(chunk);
  };
  if (ends.upstreamHead.length > 0) fromUpstream.write(ends.upstreamHead);
  if (ends.clientHead.length > 0) fromClient.write(ends.clientHead);
  client.on("data", feed(fromClient));
  upstream.on("data", feed(fromUpstream));
  for (const s of [client, upstream]) {
    s.on("error", () => shutdown());
    s.on("end", () => shutdown());
    s.on("close", () => shutdown());
  }
}

/** Pauses `source` while `sink` has more queued than it wants, so a fast side cannot flood memory. */
function throttle(sink: Socket, source: Socket): void {
  if (!sink.writableNeedDrain || source.isPaused()) return;
  source.pause();
  sink.once("drain", () => source.resume());
}

/**
 * A control payload cut to `max` bytes (a scrubbed value may have grown past the frame limit),
 * never in the middle of a UTF-8 character, so a close reason stays valid text.
 */
function control(data: Buffer, max: number): Buffer {
  if (data.length <= max) return data;
  let end = max;
  while (end > 0 && ((data[end] as number) & 0xc0) === 0x80) end--;
  return data.subarray(0, end);
}
