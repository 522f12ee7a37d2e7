/**
 * The fuzzer's hostile agent: opens one raw connection to the gateway (or a CONNECT + TLS tunnel,
 * trusting only the Warden CA), writes a case's exact bytes (in pieces at its split points), and
 * reads the answers until it has as many as the gateway could owe, the gateway closes, or the line
 * stays quiet. It never half-closes: a FIN would abort requests still in flight and blur the
 * comparison between what was audited and what arrived upstream.
 */
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { FuzzCase } from "./generate.js";
import { parseChunked, parseFields } from "./strict-parser.js";

export interface AgentResponse {
  readonly status: number;
  /** `x-warden-error`, when the gateway answered itself. */
  readonly error?: string;
  readonly body: string;
}

export interface AgentRun {
  /** The responses read, in order. */
  readonly responses: AgentResponse[];
  readonly ended: "answered" | "closed" | "quiet" | "tunnel-refused";
}

export interface AgentTarget {
  readonly proxy: { host: string; port: number };
  readonly caPem: string;
  readonly tlsHost: string;
  readonly authFor: (agent: string) => string;
}

const QUIET_MS = 1200;
const SEQUENTIAL_WAIT_MS = 400;
const CONNECT_TIMEOUT_MS = 15_000;

/**
 * The complete responses in `buf`; `methods` (in order) says which ones carry no body, `closed`
 * that the connection ended (which completes a response delimited by closing).
 */
function readResponses(buf: Buffer, methods: readonly string[], closed = false): AgentResponse[] {
  const out: AgentResponse[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const eol = buf.indexOf("\r\n", pos);
    if (eol < 0) break;
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString("latin1", pos, eol));
    if (!m?.[1]) break;
    const status = Number(m[1]);
    const fields = parseFields(buf, eol + 2);
    if (fields.kind !== "message") break;
    const h = new Map(fields.message.headers.map(([n, v]) => [n.toLowerCase(), v]));
    const start = fields.message.next;
    let next = start;
    let body: Buffer | undefined;
    const noBody = methods[out.length] === "HEAD" || status < 200 || status === 204 || status === 304;
    if (!noBody && h.get("transfer-encoding")?.toLowerCase() === "chunked") {
      const c = parseChunked(buf, next);
      if (c.kind !== "message") break;
      next = c.message.next;
      body = c.message.body;
    } else if (!noBody && h.has("content-length")) {
      next += Number(h.get("content-length"));
      if (next > buf.length) break;
    } else if (!noBody) {
      if (!closed) break; // delimited by closing: complete once the connection ends
      next = buf.length;
    }
    body ??= buf.subarray(start, next);
    const error = h.get("x-warden-error");
    if (status >= 200) out.push({ status, ...(error ? { error } : {}), body: body.toString("latin1") });
    pos = next;
  }
  return out;
}

function openSocket(t: AgentTarget, c: FuzzCase): Promise<Socket | "tunnel-refused"> {
  return new Promise((resolve, reject) => {
    const raw = connect(t.proxy.port, t.proxy.host);
    const timer = setTimeout(() => {
      raw.destroy();
      reject(new Error(`case ${c.index}: no tunnel within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    raw.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    if (!c.tunnel) {
      raw.once("connect", () => {
        clearTimeout(timer);
        resolve(raw);
      });
      return;
    }
    const authority = `${t.tlsHost}:443`;
    raw.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: ${t.authFor(c.agent)}\r\n\r\n`,
    );
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      raw.off("data", onData);
      if (!/^HTTP\/1\.1 200/.test(head)) {
        clearTimeout(timer);
        raw.destroy();
        resolve("tunnel-refused");
        return;
      }
      const tls = tlsConnect({ socket: raw, servername: t.tlsHost, ca: [t.caPem] }, () => {
        clearTimeout(timer);
        resolve(tls);
      });
      tls.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    };
    raw.on("data", onData);
  });
}

/** Runs one case; `methods` are the request methods the gateway will read, in order. */
export async function runCase(t: AgentTarget, c: FuzzCase, methods: readonly string[], owed: number) {
  const socket = await openSocket(t, c);
  if (socket === "tunnel-refused") return { responses: [], ended: "tunnel-refused" } as AgentRun;
  return new Promise<AgentRun>((resolve) => {
    let buf = Buffer.alloc(0);
    let quiet: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (ended: AgentRun["ended"]) => {
      if (settled) return;
      settled = true;
      clearTimeout(quiet);
      socket.destroy();
      resolve({ responses: readResponses(buf, methods, ended === "closed"), ended });
    };
    const arm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish("quiet"), QUIET_MS);
    };
    socket.on("error", () => finish("closed"));
    socket.on("close", () => finish("closed"));
    // Sequential cases write the next request once an answer for the previous one is in (or the
    // line stays quiet for a moment); the others pause only briefly between pieces.
    let written = 0;
    let wake: (() => void) | undefined;
    socket.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const got = readResponses(buf, methods).length;
      if (got >= owed) return finish("answered");
      arm();
      if (wake && got >= written) wake();
    });
    let at = 0;
    const cuts = [...c.splits, c.bytes.length];
    const writeNext = () => {
      wake = undefined;
      const cut = cuts.shift();
      if (cut === undefined || socket.destroyed || settled) return arm();
      socket.write(c.bytes.subarray(at, cut));
      at = cut;
      written++;
      arm();
      if (!c.sequential) return void setTimeout(writeNext, 5);
      const timer = setTimeout(writeNext, SEQUENTIAL_WAIT_MS);
      wake = () => {
        clearTimeout(timer);
        setImmediate(writeNext);
      };
    };
    writeNext();
  });
}
