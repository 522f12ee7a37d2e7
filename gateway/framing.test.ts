import { describe, expect, it } from "vitest";
import { checkFraming, checkUpgrade } from "./framing.js";
import type { HeaderPairs } from "./headers.js";

const h = (...pairs: [string, string][]): HeaderPairs => pairs;
const refused = (method: string, raw: HeaderPairs, version = "1.1") => {
  const v = checkFraming(method, version, raw);
  return v.ok ? undefined : v.reason;
};

describe("checkFraming", () => {
  it("frames a plain Content-Length body, and no body without framing", async () => {
    expect(checkFraming("POST", "1.1", h(["Content-Length", "5"]))).toEqual({
      ok: true,
      body: { kind: "length", length: 5 },
    });
    expect(checkFraming("GET", "1.1", h(["Host", "a"]))).toEqual({ ok: true, body: { kind: "none" } });
    expect(checkFraming("GET", "1.1", h(["Transfer-Encoding", "chunked"]))).toEqual({
      ok: true,
      body: { kind: "chunked" },
    });
  });

  it.each([
    ["CL with TE", h(["Content-Length", "5"], ["Transfer-Encoding", "chunked"])],
    ["two differing CLs", h(["Content-Length", "5"], ["Content-Length", "6"])],
    ["two equal CLs", h(["Content-Length", "5"], ["Content-Length", "5"])],
    ["a CL list", h(["Content-Length", "5, 6"])],
    ["a signed CL", h(["Content-Length", "+5"])],
    ["gzip, chunked", h(["Transfer-Encoding", "gzip, chunked"])],
    ["identity", h(["Transfer-Encoding", "identity"])],
    ["chunked, chunked", h(["Transfer-Encoding", "chunked, chunked"])],
    ["CHUNKED", h(["Transfer-Encoding", "CHUNKED"])],
    ["TE twice", h(["Transfer-Encoding", "chunked"], ["Transfer-Encoding", "chunked"])],
    ["Connection: content-length", h(["Connection", "close, Content-Length"], ["Content-Length", "1"])],
    ["Connection: transfer-encoding", h(["Connection", "transfer-encoding"])],
    ["Connection: host", h(["Connection", "host"])],
    ["two Hosts", h(["Host", "a"], ["Host", "b"])],
    ["NUL in a value", h(["X-A", "b\0c"])],
    ["space in a name", h(["Transfer-Encoding ", "chunked"])],
  ])("refuses %s", (_name, raw) => {
    expect(refused("POST", raw)).toBeTypeOf("string");
  });

  it("refuses chunked on HTTP/1.0 and the HTTP/2 preface", async () => {
    expect(refused("POST", h(["Transfer-Encoding", "chunked"]), "1.0")).toBeTypeOf("string");
    expect(refused("PRI", h(), "2.0")).toBeTypeOf("string");
  });
});

describe("checkUpgrade", () => {
  const ws = h(
    ["Connection", "Upgrade"],
    ["Upgrade", "websocket"],
    ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
    ["Sec-WebSocket-Version", "13"],
  );
  it("accepts a WebSocket handshake", async () => {
    expect(checkUpgrade("GET", "1.1", ws)).toBeUndefined();
  });
  it.each([
    ["h2c", h(["Connection", "Upgrade"], ["Upgrade", "h2c"])],
    ["websocket, h2c", h(["Connection", "Upgrade"], ["Upgrade", "websocket, h2c"])],
    ["TLS/1.0", h(["Connection", "Upgrade"], ["Upgrade", "TLS/1.0"])],
    ["missing key", ws.filter(([n]) => n !== "Sec-WebSocket-Key")],
    ["missing version", ws.filter(([n]) => n !== "Sec-WebSocket-Version")],
  ])("refuses %s", (_n, raw) => {
    expect(checkUpgrade("GET", "1.1", raw)).toBeTypeOf("string");
  });
  it("refuses a POST upgrade", async () => {
    expect(checkUpgrade("POST", "1.1", ws)).toBeTypeOf("string");
  });
});
