/**
 * The fuzzer's two parsers, checked on fixed bytes: the strict one refuses every ambiguity RFC 9112
 * lets a recipient refuse and reads valid streams exactly like llhttp does (so a disagreement the
 * fuzzer reports is the gateway's, not the tooling's).
 */
import { describe, expect, it } from "vitest";
import { llhttpParse } from "./llhttp-parse.js";
import { parseRequestStream } from "./strict-parser.js";

const head = (extra: string, line = "POST /a HTTP/1.1") => `${line}\r\nHost: x\r\n${extra}\r\n`;

describe("strict parser", () => {
  it.each([
    ["Content-Length", `${head("Content-Length: 3\r\n")}abc${head("", "GET /b HTTP/1.1")}`],
    [
      "chunked with extensions and trailers",
      `${head("Transfer-Encoding: chunked\r\n")}3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n`,
    ],
    ["leading zeros", `${head("Content-Length: 003\r\n")}abc`],
    ["Connection: close last", `${head("Connection: close\r\n", "GET /a HTTP/1.1")}`],
  ])("reads %s exactly like llhttp", (_what, text) => {
    const bytes = Buffer.from(text, "latin1");
    const strict = parseRequestStream(bytes);
    const ll = llhttpParse(bytes);
    expect(strict.stop).toBeUndefined();
    expect(ll.error).toBeUndefined();
    expect(strict.requests.map((r) => [r.method, r.target, r.body.toString()])).toEqual(
      ll.requests.map((r) => [r.method, r.target, r.body.toString()]),
    );
  });

  it.each([
    ["CL and TE", head("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")],
    ["two Content-Lengths", head("Content-Length: 3\r\nContent-Length: 3\r\n")],
    ["a signed Content-Length", head("Content-Length: +3\r\n")],
    ["TE other than chunked", head("Transfer-Encoding: gzip, chunked\r\n")],
    ["two TE fields", head("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")],
    ["bare LF", "GET /a HTTP/1.1\nHost: x\r\n\r\n"],
    ["obs-fold", head("X-A: 1\r\n  2\r\n")],
    ["space before colon", head("Content-Length : 0\r\n")],
    ["no Host", "GET /a HTTP/1.1\r\n\r\n"],
    ["a bad chunk size", `${head("Transfer-Encoding: chunked\r\n")}0x3\r\nabc\r\n0\r\n\r\n`],
    [
      "bytes after Connection: close",
      `${head("Connection: close\r\n", "GET /a HTTP/1.1")}GET /b HTTP/1.1\r\n`,
    ],
  ])("refuses %s", (_what, text) => {
    const strict = parseRequestStream(Buffer.from(text, "latin1"));
    expect(strict.stop?.reason).toBeDefined();
    expect(strict.stop?.reason).not.toBe("incomplete message");
  });

  it("llhttp keeps trailers out of the next request's target", () => {
    const text = `${head("Transfer-Encoding: chunked\r\n")}0\r\nX-T: 1\r\n\r\n${head("", "GET /b HTTP/1.1")}`;
    expect(llhttpParse(Buffer.from(text)).requests.map((r) => r.target)).toEqual(["/a", "/b"]);
  });
});
