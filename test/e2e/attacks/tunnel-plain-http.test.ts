/**
 * Plain HTTP inside a CONNECT tunnel (what undici's ProxyAgent, i.e. Node fetch with proxy env, does
 * for every http:// URL): the gateway must serve it like any other request — same policy, framing
 * checks, placeholder swap, scrubbing and audit — instead of dropping it unanswered and unaudited.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawSend } from "../../fakes/raw-agent.js";
import { OK_RESPONSE } from "../../fakes/raw-upstream.js";
import { agentProxy, fetch as undiciFetch } from "../real-clients/undici-proxy.js";
import { type RawWorld, SECRET, startRawWorld } from "./raw-world.js";

let w: RawWorld;

beforeAll(async () => {
  w = await startRawWorld();
  // Echo the Authorization header back, so scrubbing shows.
  w.plain.script((req) => {
    const auth = req.headers.find(([n]) => n === "authorization")?.[1];
    if (!auth) return OK_RESPONSE;
    const body = `seen ${auth}`;
    return `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  });
}, 60_000);

afterAll(async () => {
  await w?.close();
});

describe("plain HTTP inside a CONNECT tunnel", () => {
  it("a raw plain request in a tunnel to raw.test:80 is forwarded with scheme http and audited", async () => {
    const before = w.plain.requests.length;
    const seq = await w.lastSeq();
    const answer = await rawSend(w.gw, w.auth, {
      mode: { kind: "plain-tunnel", authority: "raw.test:80" },
      parts: ["GET /in-plain-tunnel?x=1 HTTP/1.1\r\nHost: raw.test\r\n\r\n"],
    });
    expect(answer.statuses, answer.text).toEqual([200]);
    expect(w.plain.requests.slice(before).map((r) => r.line)).toEqual(["GET /in-plain-tunnel?x=1 HTTP/1.1"]);
    const rows = await w.auditAfter(seq);
    const row = rows.find((r) => r.path === "/in-plain-tunnel");
    expect(row, JSON.stringify(rows)).toMatchObject({ agent: "raw1", host: "raw.test", verdict: "allow" });
  });

  it("a placeholder in a plain tunnel is swapped upstream and the echoed secret scrubbed", async () => {
    const ph = w.agent.env.RAW_KEY ?? "";
    expect(ph).toMatch(/^wdn_/);
    const before = w.plain.requests.length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: { kind: "plain-tunnel", authority: "sec.test:80" },
      parts: [`GET /echo HTTP/1.1\r\nHost: sec.test\r\nAuthorization: Bearer ${ph}\r\n\r\n`],
    });
    expect(answer.statuses, answer.text).toEqual([200]);
    const got = w.plain.requests.slice(before);
    expect(got[0]?.headers).toContainEqual(["authorization", `Bearer ${SECRET}`]);
    expect(answer.text).not.toContain(SECRET);
    // The scrubbed body comes back chunked, possibly in several chunks: read it without the framing.
    const body = answer.text.slice(answer.text.indexOf("\r\n\r\n") + 2).replace(/\r\n[0-9a-f]+\r\n/gi, "");
    expect(body).toContain(`seen Bearer ${ph}`);
  });

  it("a placeholder bound for another host is refused inside a plain tunnel too", async () => {
    const ph = w.agent.env.RAW_KEY ?? "";
    const bytes = w.plain.allText().length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: { kind: "plain-tunnel", authority: "raw.test:80" },
      parts: [`GET /steal HTTP/1.1\r\nHost: raw.test\r\nAuthorization: Bearer ${ph}\r\n\r\n`],
    });
    expect(answer.statuses[0], answer.text).toBe(403);
    expect(answer.errors[0]).toBe("secret_host_mismatch");
    expect(w.plain.allText().slice(bytes)).toBe("");
  });

  it("ambiguous framing inside a plain tunnel is refused with 400 bad_request", async () => {
    const bytes = w.plain.allText().length;
    const answer = await rawSend(w.gw, w.auth, {
      mode: { kind: "plain-tunnel", authority: "raw.test:80" },
      parts: [
        "POST /x HTTP/1.1\r\nHost: raw.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      ],
    });
    expect(answer.statuses, answer.text).toEqual([400]);
    expect(answer.errors).toEqual(["bad_request"]);
    expect(w.plain.allText().slice(bytes)).toBe("");
  });

  it("undici ProxyAgent (Node fetch with proxy env) fetches an http:// URL through the gateway", async () => {
    const before = w.plain.requests.length;
    const seq = await w.lastSeq();
    // Configured from the agent's own env (HTTPS_PROXY with its credentials), as in a container.
    const dispatcher = agentProxy(w.agent.env, w.gw.caPem);
    try {
      const res = await undiciFetch("http://raw.test/via-undici", { dispatcher });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
    } finally {
      await dispatcher.close();
    }
    expect(w.plain.requests.slice(before).map((r) => r.line)).toEqual(["GET /via-undici HTTP/1.1"]);
    const rows = await w.auditAfter(seq);
    expect(rows.some((r) => r.path === "/via-undici" && r.verdict === "allow" && r.agent === "raw1")).toBe(
      true,
    );
  });
});
