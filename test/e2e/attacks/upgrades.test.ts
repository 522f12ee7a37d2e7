/**
 * Upgrade attacks (issue #9 class 2): only a WebSocket handshake (GET, one `websocket` token, key and
 * version) is proxied. h2c, token lists, TLS upgrades, handshakes without key, POST upgrades and the
 * HTTP/2 preface are refused with 400 bad_request, audited, nothing upstream; a stray `Upgrade`
 * header never reaches upstream; a non-101 answer to a handshake ends the connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawSend } from "../../fakes/raw-agent.js";
import { type RawWorld, startRawWorld, type Via, vias } from "./raw-world.js";

let w: RawWorld;

beforeAll(async () => {
  w = await startRawWorld();
}, 60_000);

afterAll(async () => {
  await w?.close();
});

const KEY = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const VERSION = "Sec-WebSocket-Version: 13\r\n";

const head = (via: Via, method: string, path: string, extra: string): string =>
  `${method} ${via.target(path)} HTTP/1.1\r\nHost: ${via.host}\r\n` +
  `${via.mode.kind === "absolute" ? w.auth : ""}${extra}\r\n`;

describe.each(vias())("upgrades via $label", (via) => {
  const refused: [string, string, string][] = [
    [
      "h2c",
      "GET",
      "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    ],
    [
      "a token list websocket, h2c",
      "GET",
      `Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n${KEY}${VERSION}`,
    ],
    ["TLS/1.0", "GET", "Connection: Upgrade\r\nUpgrade: TLS/1.0\r\n"],
    [
      "a WebSocket handshake without Sec-WebSocket-Key",
      "GET",
      `Connection: Upgrade\r\nUpgrade: websocket\r\n${VERSION}`,
    ],
    [
      "a WebSocket handshake without Sec-WebSocket-Version",
      "GET",
      `Connection: Upgrade\r\nUpgrade: websocket\r\n${KEY}`,
    ],
    [
      "a POST WebSocket handshake",
      "POST",
      `Connection: Upgrade\r\nUpgrade: websocket\r\n${KEY}${VERSION}Content-Length: 0\r\n`,
    ],
    [
      "two Upgrade headers",
      "GET",
      `Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n${KEY}${VERSION}`,
    ],
  ].map(([name, method, extra]) => [name as string, method as string, extra as string]);

  it.each(refused)(
    "refuses %s with 400 bad_request, audited, nothing upstream",
    async (_name, method, extra) => {
      const up = via.upstream(w);
      const bytes = up.allText().length;
      const seq = await w.lastSeq();
      const answer = await rawSend(w.gw, w.auth, {
        mode: via.mode,
        parts: [head(via, method, "/upgrade-me", extra)],
      });
      expect(answer.statuses, answer.text).toEqual([400]);
      expect(answer.errors).toEqual(["bad_request"]);
      expect(answer.closed).toBe(true);
      expect(up.allText().slice(bytes)).toBe("");
      const rows = await w.auditAfter(seq);
      expect(
        rows.some((r) => r.code === "bad_request" && r.upgrade === true),
        JSON.stringify(rows),
      ).toBe(true);
    },
  );

  it("refuses the HTTP/2 preface PRI * HTTP/2.0 with 400 bad_request, audited, nothing upstream", async () => {
    const up = via.upstream(w);
    const bytes = up.allText().length;
    const seq = await w.lastSeq();
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"],
    });
    expect(answer.statuses, answer.text).toEqual([400]);
    expect(answer.errors).toEqual(["bad_request"]);
    expect(answer.closed).toBe(true);
    expect(up.allText().slice(bytes)).toBe("");
    expect((await w.auditAfter(seq)).some((r) => r.code === "bad_request")).toBe(true);
  });

  it("drops an Upgrade header sent without Connection: upgrade before it reaches upstream", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: via.mode,
      parts: [head(via, "GET", "/plain-with-upgrade", "Upgrade: h2c\r\nHTTP2-Settings: AAMA\r\n")],
    });
    expect(answer.statuses, answer.text).toEqual([200]);
    const got = up.requests.slice(before);
    expect(got.map((r) => r.line)).toEqual(["GET /plain-with-upgrade HTTP/1.1"]);
    expect(got[0]?.headers.map(([n]) => n)).not.toContain("upgrade");
  });

  it("a non-101 answer to a WebSocket handshake reaches the client, then the connection closes", async () => {
    const up = via.upstream(w);
    const before = up.requests.length;
    const handshake = head(
      via,
      "GET",
      "/ws-refused",
      `Connection: Upgrade\r\nUpgrade: websocket\r\n${KEY}${VERSION}`,
    );
    const after = head(via, "GET", "/after-refused-handshake", "");
    // The raw upstream answers 200 "ok" to the handshake.
    const answer = await rawSend(w.gw, w.auth, { mode: via.mode, parts: [handshake, after], gapMs: 300 });
    expect(answer.statuses, answer.text).toEqual([200]);
    expect(answer.text).toContain("ok");
    expect(answer.closed).toBe(true);
    const lines = up.requests.slice(before).map((r) => r.line);
    expect(lines).toEqual(["GET /ws-refused HTTP/1.1"]);
    expect(up.allText()).not.toContain("/after-refused-handshake");
  });
});
