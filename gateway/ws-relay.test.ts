import { once } from "node:events";
import { createServer, type Server, type Socket, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refuseHandshake, relayWebSocket } from "./ws-relay.js";

const SECRET = "real-secret-value";
const scrub = (b: Buffer): Buffer => Buffer.from(b.toString("latin1").split(SECRET).join("[P]"), "latin1");

function frame(opcode: number, payload: string, o: { fin?: boolean; mask?: boolean } = {}): Buffer {
  const data = Buffer.from(payload);
  const head = Buffer.from([(o.fin === false ? 0 : 0x80) | opcode, data.length | (o.mask ? 0x80 : 0)]);
  if (!o.mask) return Buffer.concat([head, data]);
  const key = Buffer.from([9, 8, 7, 6]);
  return Buffer.concat([head, key, data.map((b, i) => b ^ (key[i % 4] as number))]);
}

let server: Server;
const accepted: Socket[] = [];

/** A connected pair of local sockets: [our end, the far end]. */
async function pair(): Promise<[Socket, Socket]> {
  const near = connect((server.address() as { port: number }).port, "127.0.0.1");
  await once(near, "connect");
  while (accepted.length === 0) await new Promise((r) => setTimeout(r, 5));
  return [near, accepted.shift() as Socket];
}

/** Reads from `s` until `n` bytes arrived or it closed (without destroying it). */
function read(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (): void => {
      s.off("data", onData);
      resolve(got);
    };
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      if (got.length >= n) done();
    };
    s.on("data", onData);
    s.once("close", done);
  });
}

beforeAll(async () => {
  server = createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
});
afterAll(() => void server.close());

describe("refuseHandshake()", () => {
  it.each([
    ["a plain 101", undefined, { upgrade: "websocket" }, undefined],
    ["an extension", undefined, { upgrade: "websocket", "sec-websocket-extensions": "x" }, "extension"],
    ["another upgrade", undefined, { upgrade: "h2c" }, "another protocol"],
    ["an offered subprotocol", "a, b", { upgrade: "websocket", "sec-websocket-protocol": "b" }, undefined],
    [
      "a subprotocol not offered",
      "a",
      { upgrade: "websocket", "sec-websocket-protocol": "c" },
      "not offered",
    ],
  ])("judges %s", (_why, offered, headers, want) => {
    const got = refuseHandshake(offered, headers);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe("relayWebSocket()", () => {
  it("joins fragments and scrubs the message across them; re-masks the agent's frames", async () => {
    const [client, agent] = await pair();
    const [upstream, far] = await pair();
    relayWebSocket({
      client: agent,
      upstream,
      clientHead: Buffer.alloc(0),
      upstreamHead: Buffer.alloc(0),
      scrub,
    });
    far.write(
      Buffer.concat([frame(1, `x ${SECRET.slice(0, 4)}`, { fin: false }), frame(0, `${SECRET.slice(4)} y`)]),
    );
    const msg = await read(client, 2 + "x [P] y".length);
    expect(msg.equals(frame(1, "x [P] y"))).toBe(true);
    client.write(frame(2, "hello", { mask: true }));
    const up = await read(far, 2 + 4 + 5);
    expect(up[0]).toBe(0x82);
    expect((up[1] as number) & 0x80).toBe(0x80); // masked towards the upstream
    const key = up.subarray(2, 6);
    expect(Buffer.from(up.subarray(6).map((b, i) => b ^ (key[i % 4] as number))).toString()).toBe("hello");
    client.destroy();
    await once(far, "close");
  });

  it("closes both sides with 1002 on an unmasked agent frame in the handshake's leftover bytes", async () => {
    const [client, agent] = await pair();
    const [upstream, far] = await pair();
    relayWebSocket({
      client: agent,
      upstream,
      clientHead: frame(1, "bare"),
      upstreamHead: Buffer.alloc(0),
      scrub,
    });
    const toClient = await read(client, 4);
    expect([toClient[0], toClient.readUInt16BE(2)]).toEqual([0x88, 1002]);
    const toUpstream = await read(far, 8);
    expect(toUpstream[0]).toBe(0x88);
    await Promise.all([once(client, "close"), once(far, "close")]);
  });
});
