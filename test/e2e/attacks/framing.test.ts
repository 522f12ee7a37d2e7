/**
 * Request framing attacks (issue #9 class 1): ambiguous framing is refused with 400 bad_request,
 * audited, nothing upstream; a body goes upstream only with framing the gateway set itself, so a
 * body can never be read by upstream as a second request. Every case runs in absolute form and
 * inside a CONNECT+TLS tunnel, against a raw upstream that records every byte.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstBody, rawSend } from "../../fakes/raw-agent.js";
import { OK_HEAD_RESPONSE, OK_RESPONSE } from "../../fakes/raw-upstream.js";
import { type RawWorld, startRawWorld, type Via, vias } from "./raw-world.js";

let w: RawWorld;

beforeAll(async () => {
  w = await startRawWorld();
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const head = (via: Via, method: string, path: string, extra: string, version = "1.1"): string =>
  `${method} ${via.target(path)} HTTP/${version}\r\nHost: ${via.host}\r\n` +
  `${via.mode.kind === "absolute" ? w.auth : ""}${extra}\r\n`;

const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: raw.test\r\n\r\n";
const chunk = (s: string): string => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n0\r\n\r\n`;

describe.each(vias())("framing via $label", (via) => {
  it.each(["GET", "DELETE", "OPTIONS", "HEAD", "POST", "PUT"])(
    "a %s with a chunked body carrying a second request goes upstream chunked, never as a request",
    async (method) => {
      const up = via.upstream(w);
      const before = up.requests.length;
      const answer = await rawSend(w.gw, w.auth, {
        mode: via.mode,
        parts: [head(via, method, `/carrier-${method}`, "Transfer-Encoding: chunked\r\n") + chunk(SMUGGLED)],
      });
      expect(answer.statuses[0], answer.text).toBe(200);
      const seen = up.requests.slice(before);
      expect(seen.map((r) => r.line)).toEqual([`${method} /carrier-${method} HTTP/1.1`]);
      expect(up.requests.filter((r) => r.line.includes("/smuggled"))).toEqual([]);
      const got = seen[0];
      expect(got?.headers.filter(([n]) => n === "transfer-encoding" || n === "content-length")).toEqual([
        ["transfer-encoding", "chunked"],
      ]);
      expect(got?.body.toString("latin1")).toBe(SMUGGLED);
    },
  );

  it("chunk extensions and zero-padded chunk sizes never reach upstream: the gateway re-chunks", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const body = "0005;transfer-encoding=identity\r\nhello\r\n0\r\n\r\n";
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [head(via, "POST", "/rechunk", "Transfer-Encoding: chunked\r\n") + body],
    });
    expect(answer.statuses[0], answer.text).toBe(200);
    const got = up.requests.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]?.body.toString()).toBe("hello");
    expect(got[0]?.rawBody.toString("latin1")).not.toMatch(/;|identity|0005/);
  });

  it("a body with Content-Length goes upstream with exactly that Content-Length", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [`${head(via, "DELETE", "/cl", "Content-Length: 5\r\n")}hello`],
    });
    expect(answer.statuses[0], answer.text).toBe(200);
    const got = up.requests.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]?.headers.filter(([n]) => n === "content-length")).toEqual([["content-length", "5"]]);
    expect(got[0]?.body.toString()).toBe("hello");
  });

  it("a request without body framing sends no body, and its trailing bytes are the next request", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [head(via, "GET", "/first", "") + head(via, "GET", "/second", "")],
    });
    expect(answer.statuses).toEqual([200, 200]);
    const got = up.requests.slice(before);
    expect(got.map((r) => r.line)).toEqual(["GET /first HTTP/1.1", "GET /second HTTP/1.1"]);
    expect(got.every((r) => r.rawBody.length === 0)).toBe(true);
  });

  const ambiguous: [string, string, string][] = [
    [
      "Content-Length with Transfer-Encoding",
      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      "0\r\n\r\n",
    ],
    ["two differing Content-Lengths", "Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"],
    ["a Content-Length list 5, 6", "Content-Length: 5, 6\r\n", "hello!"],
    ["Transfer-Encoding gzip, chunked", "Transfer-Encoding: gzip, chunked\r\n", chunk("hello")],
    ["Transfer-Encoding identity", "Transfer-Encoding: identity\r\n", ""],
    ["Transfer-Encoding chunked, chunked", "Transfer-Encoding: chunked, chunked\r\n", chunk("hello")],
    ["Transfer-Encoding CHUNKED (case variant)", "Transfer-Encoding: CHUNKED\r\n", chunk("hello")],
    ["Transfer-Encoding twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunk("x")],
    ["Transfer-Encoding with a space before the colon", "Transfer-Encoding : chunked\r\n", chunk("x")],
    ["Transfer-Encoding in an obs-fold", "Transfer-Encoding: gzip\r\n ,chunked\r\n", chunk("x")],
    ["Connection naming Content-Length", "Connection: Content-Length\r\nContent-Length: 5\r\n", "hello"],
    ["Connection naming Transfer-Encoding", "Connection: close, transfer-encoding\r\n", ""],
    ["Connection naming Host", "Connection: host\r\n", ""],
    ["a NUL byte in a header value", "X-Trick: a\u0000b\r\n", ""],
    ["a chunk size with 0x", "Transfer-Encoding: chunked\r\n", "0x5\r\nhello\r\n0\r\n\r\n"],
    [
      "an overflowing chunk size",
      "Transfer-Encoding: chunked\r\n",
      "FFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n",
    ],
    ["a chunk without CRLF terminator", "Transfer-Encoding: chunked\r\n", "5\r\nhelloXX0\r\n\r\n"],
    ["a bare LF in a chunk extension", "Transfer-Encoding: chunked\r\n", "5;a\nb\r\nhello\r\n0\r\n\r\n"],
    [
      "a Content-Length in the chunked trailer",
      "Transfer-Encoding: chunked\r\n",
      "5\r\nhello\r\n0\r\nContent-Length: 9\r\n\r\n",
    ],
  ];

  it.each(ambiguous)(
    "refuses %s with 400 bad_request, audited, nothing upstream",
    async (name, headers, body) => {
      const up = via.upstream(w);
      const bytesBefore = up.allText().length;
      const before = up.requests.length;
      const seq = await w.lastSeq();
      const answer = await rawSend(w.gw, w.auth, {
        mode: via.mode,
        parts: [head(via, "POST", "/ambiguous", headers) + body + SMUGGLED],
      });
      expect(answer.statuses[0], answer.text).toBe(400);
      expect(answer.errors[0]).toBe("bad_request");
      expect(answer.text).toContain('"code":"bad_request"');
      expect(answer.statuses).toHaveLength(1);
      expect(answer.closed).toBe(true);
      // Chunk errors surface only while the body streams: the head may have gone, no body byte may.
      expect(up.requests.slice(before).map((r) => `${r.conn} ${r.line}`)).toEqual([]);
      const sent = up.allText().slice(bytesBefore);
      // A bad chunk is only seen while the body streams: the head may have left, the request never completes.
      if (!/chunk size|chunk without|chunk extension|trailer/.test(name)) expect(sent).toBe("");
      expect(up.requests.filter((r) => r.line.includes("/smuggled"))).toEqual([]);
      const rows = await w.auditAfter(seq);
      expect(
        rows.some((r) => r.code === "bad_request" || r.code === "request_timeout"),
        JSON.stringify(rows),
      ).toBe(true);
    },
  );

  it.each([
    ["a head written with bare LFs", (h: string) => h.replaceAll("\r\n", "\n")],
    [
      "a bare LF ending one header line",
      (h: string) => h.replace("Content-Length: 5\r\n", "Content-Length: 5\n"),
    ],
  ])("refuses %s with 400 bad_request and nothing upstream", async (_name, mangle) => {
    const up = via.upstream(w);
    const bytes = up.allText().length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [`${mangle(head(via, "POST", "/bare-lf", "Content-Length: 5\r\nX-After: 1\r\n"))}hello`],
    });
    expect(answer.statuses, answer.text).toEqual([400]);
    expect(answer.errors).toEqual(["bad_request"]);
    expect(up.allText().slice(bytes)).toBe("");
  });

  it("refuses chunked framing on HTTP/1.0 with 400 bad_request and nothing upstream", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [head(via, "POST", "/old", "Transfer-Encoding: chunked\r\n", "1.0") + chunk("hello")],
    });
    expect(answer.statuses[0], answer.text).toBe(400);
    expect(answer.errors[0]).toBe("bad_request");
    expect(up.requests.length).toBe(before);
  });
});

const EVIL = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nEVIL";

describe.each(vias())("upstream connections via $label", (via) => {
  const get = (path: string, auth = w.auth) =>
    rawSend(w.gw, auth, {
      mode: via.mode,
      parts: [
        `GET ${via.target(path)} HTTP/1.1\r\nHost: ${via.host}\r\n${via.mode.kind === "absolute" ? auth : ""}\r\n`,
      ],
      quietMs: 800,
    });
  const connOf = (path: string): number | undefined =>
    via.upstream(w).requests.find((r) => r.line.startsWith(`GET ${path} `))?.conn;

  it("two agents never share an upstream connection (a desync cannot cross agents)", async () => {
    expect((await get("/agent-one")).statuses).toEqual([200]);
    expect((await get("/agent-two", w.otherAuth)).statuses).toEqual([200]);
    expect((await get("/agent-one-again")).statuses).toEqual([200]);
    expect(connOf("/agent-two")).not.toBe(connOf("/agent-one"));
    expect(connOf("/agent-two")).not.toBe(connOf("/agent-one-again"));
  });

  it("a late response on an idle pooled connection is never returned to the next request", async () => {
    const up = via.upstream(w);
    up.script((req, conn) => {
      if (req.line.startsWith("GET /late-poison ")) {
        setTimeout(() => conn.socket.write(EVIL), 200);
        return OK_RESPONSE;
      }
      return OK_RESPONSE;
    });
    try {
      expect(firstBody((await get("/late-poison")).text)).toBe("ok");
      await new Promise((r) => setTimeout(r, 500));
      const next = await get("/after-late");
      expect(next.text).not.toContain("EVIL");
      expect(next.statuses).toEqual([200]);
      expect(connOf("/after-late")).not.toBe(connOf("/late-poison"));
    } finally {
      up.script((req) => (req.line.startsWith("HEAD ") ? OK_HEAD_RESPONSE : OK_RESPONSE));
    }
  });

  it("extra bytes after a response are never returned to the next request", async () => {
    const up = via.upstream(w);
    up.script((req) => (req.line.startsWith("GET /extra-poison ") ? OK_RESPONSE + EVIL : OK_RESPONSE));
    try {
      expect((await get("/extra-poison")).text).not.toContain("EVIL");
      const next = await get("/after-extra");
      expect(next.text).not.toContain("EVIL");
      expect(connOf("/after-extra")).not.toBe(connOf("/extra-poison"));
    } finally {
      up.script((req) => (req.line.startsWith("HEAD ") ? OK_HEAD_RESPONSE : OK_RESPONSE));
    }
  });

  it("a read-until-close response is delivered and its connection not reused", async () => {
    const up = via.upstream(w);
    up.script((req, conn) => {
      if (!req.line.startsWith("GET /until-close ")) return OK_RESPONSE;
      conn.socket.end("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it");
      return undefined;
    });
    try {
      expect(firstBody((await get("/until-close")).text)).toBe("all of it");
      const next = await get("/after-close");
      expect(firstBody(next.text)).toBe("ok");
      expect(connOf("/after-close")).not.toBe(connOf("/until-close"));
    } finally {
      up.script((req) => (req.line.startsWith("HEAD ") ? OK_HEAD_RESPONSE : OK_RESPONSE));
    }
  });
});

describe.each(vias("sec"))("HEAD through a host whose policy lists a secret, via $label", (via) => {
  it("HEAD keeps its Content-Length, and a GET after it on the same connection is intact", async () => {
    const line = (m: string, p: string) =>
      `${m} ${via.target(p)} HTTP/1.1\r\nHost: ${via.host}\r\n${via.mode.kind === "absolute" ? w.auth : ""}\r\n`;
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [line("HEAD", "/head-first"), line("GET", "/get-second")],
      gapMs: 300,
    });
    expect(answer.statuses, answer.text).toEqual([200, 200]);
    const [headResponse, getResponse] = answer.text.split(/(?=HTTP\/1\.1 )/);
    expect(headResponse).toMatch(/content-length: 2\r\n/i);
    expect(headResponse).toMatch(/\r\n\r\n$/);
    expect(firstBody(getResponse ?? "")).toBe("ok");
  });
});

describe.each(vias())("hostile upstream framing via $label", (via) => {
  const get = (path: string) =>
    rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [
        `GET ${via.target(path)} HTTP/1.1\r\nHost: ${via.host}\r\n${via.mode.kind === "absolute" ? w.auth : ""}\r\n`,
      ],
      quietMs: 800,
    });
  const answers: Record<string, string> = {
    "/resp-cl-te":
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nEVIL\r\n0\r\n\r\n",
    "/resp-two-cl": "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 2\r\n\r\nEVIL",
    "/resp-101":
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nEVIL-RAW-BYTES",
  };

  it.each(Object.keys(answers))(
    "an ambiguous or unasked-for upstream answer (%s) never reaches the agent as is",
    async (path) => {
      const up = via.upstream(w);
      up.script((req) => {
        const p = req.line.split(" ")[1] ?? "";
        return answers[p] ?? (req.line.startsWith("HEAD ") ? OK_HEAD_RESPONSE : OK_RESPONSE);
      });
      try {
        const answer = await get(path);
        expect(answer.text).not.toContain("EVIL");
        expect(
          answer.statuses.every((s) => s === 502),
          answer.text,
        ).toBe(true);
        const next = await get("/after-hostile");
        expect(firstBody(next.text)).toBe("ok");
      } finally {
        up.script((req) => (req.line.startsWith("HEAD ") ? OK_HEAD_RESPONSE : OK_RESPONSE));
      }
    },
  );
});
