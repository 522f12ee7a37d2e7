import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Forwarder, startForwarder } from "./forwarder.js";

let dir: string;
let echo: net.Server | undefined;
let forwarder: Forwarder | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "warden-fwd-"));
});

afterEach(async () => {
  await forwarder?.close();
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
  echo = undefined;
  forwarder = undefined;
  await rm(dir, { recursive: true, force: true });
});

function startEcho(path: string): Promise<net.Server> {
  const server = net.createServer((s) => s.pipe(s));
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

/** Connects, writes `text`, and collects what comes back until the server closes or `until` is seen. */
function roundTrip(port: number, text: string, until?: string): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    const client = net.connect({ host: "127.0.0.1", port });
    let data = "";
    client.on("data", (d) => {
      data += d.toString();
      if (until && data.includes(until)) {
        client.destroy();
        resolve({ data, closed: false });
      }
    });
    client.on("error", () => {});
    client.on("close", () => resolve({ data, closed: true }));
    client.write(text);
  });
}

describe("startForwarder()", () => {
  it("pipes a TCP connection to the Unix socket and back", async () => {
    const socketPath = join(dir, "gateway.sock");
    echo = await startEcho(socketPath);
    forwarder = await startForwarder({ listen: { host: "127.0.0.1", port: 0 }, socketPath });
    expect(forwarder.address.host).toBe("127.0.0.1");
    const { data } = await roundTrip(forwarder.address.port, "hello through the socket", "socket");
    expect(data).toBe("hello through the socket");
  });

  it("keeps several connections apart", async () => {
    const socketPath = join(dir, "gateway.sock");
    echo = await startEcho(socketPath);
    forwarder = await startForwarder({ listen: { host: "127.0.0.1", port: 0 }, socketPath });
    const port = forwarder.address.port;
    const [a, b] = await Promise.all([roundTrip(port, "first!", "!"), roundTrip(port, "second?", "?")]);
    expect([a.data, b.data]).toEqual(["first!", "second?"]);
  });

  it("closes the client and reports the error when the socket is missing (gateway down)", async () => {
    const errors: Error[] = [];
    forwarder = await startForwarder({
      listen: { host: "127.0.0.1", port: 0 },
      socketPath: join(dir, "absent.sock"),
      onError: (e) => errors.push(e),
    });
    const result = await roundTrip(forwarder.address.port, "anyone?");
    expect(result).toEqual({ data: "", closed: true });
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toContain("ENOENT");
  });

  it("closes the client when the gateway side hangs up", async () => {
    const socketPath = join(dir, "gateway.sock");
    echo = net.createServer((s) => {
      s.resume(); // read to EOF so the server side can finish closing
      s.end("bye");
    });
    await new Promise<void>((r) => echo?.listen(socketPath, () => r()));
    forwarder = await startForwarder({ listen: { host: "127.0.0.1", port: 0 }, socketPath });
    expect(await roundTrip(forwarder.address.port, "hi")).toEqual({ data: "bye", closed: true });
  });

  it("close() cuts open connections and stops listening", async () => {
    const socketPath = join(dir, "gateway.sock");
    echo = await startEcho(socketPath);
    forwarder = await startForwarder({ listen: { host: "127.0.0.1", port: 0 }, socketPath });
    const port = forwarder.address.port;
    const client = net.connect({ host: "127.0.0.1", port });
    await new Promise((r) => client.once("connect", r));
    const closed = new Promise((r) => client.once("close", r));
    client.on("error", () => {});
    await forwarder.close();
    forwarder = undefined;
    await closed;
    const refused = await new Promise<string | undefined>((r) => {
      const c = net.connect({ host: "127.0.0.1", port });
      c.on("error", (e: NodeJS.ErrnoException) => r(e.code));
      c.on("connect", () => r(undefined));
    });
    expect(refused).toBe("ECONNREFUSED");
  });

  it("rejects when the port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    await expect(
      startForwarder({ listen: { host: "127.0.0.1", port }, socketPath: join(dir, "x.sock") }),
    ).rejects.toMatchObject({ code: "EADDRINUSE" });
    await new Promise<void>((r) => blocker.close(() => r()));
  });
});
