/**
 * The framing fuzzer's seeded generator: one case is one agent connection (absolute-form to the
 * plain host, or origin-form inside a CONNECT+TLS tunnel to the TLS host) carrying 1–4 pipelined
 * requests, each a mix of method × framing × Connection tokens × body shape × line-level faults
 * (bare LF, obs-fold, space before colon). Case `i` of seed `s` is always the same bytes, so a
 * failure names `FUZZ_SEED=s FUZZ_ONLY=i`. Request paths carry the case and request number
 * (`/f/c12r3`, denied ones under `/denied/`, smuggled ones under `/s/` or `/denied/s/`).
 */
import { mulberry32 } from "../../fuzz-cases.js";
import { frame, type Pick } from "./framings.js";

export interface FuzzAgent {
  readonly name: string;
  readonly token: string;
}

export interface GenContext {
  readonly agents: readonly [FuzzAgent, FuzzAgent];
  /** Plain-HTTP host (absolute-form, port 80) and HTTPS host (CONNECT, port 443). */
  readonly plainHost: string;
  readonly tlsHost: string;
}

export interface FuzzCase {
  readonly index: number;
  readonly agent: string;
  readonly tunnel: boolean;
  /** Everything written after the connection (or tunnel) is up. */
  readonly bytes: Buffer;
  /** Offsets where the writer pauses, so requests also arrive in pieces. */
  readonly splits: readonly number[];
  /** Wait for an answer at each split (keep-alive one by one) instead of pipelining. */
  readonly sequential: boolean;
  /** One label per request: method, framing, connection tokens, body shape, faults. */
  readonly labels: readonly string[];
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"];
const ODD_METHODS = ["PROPFIND", "get", "FOO", "G@T", "QUERY", "M-SEARCH", "PURGE", "SEARCH", "LINK"];
const CONNECTION = [
  "close",
  "keep-alive",
  "content-length",
  "transfer-encoding",
  "host",
  "authorization",
  "x-anything",
  "keep-alive, content-length",
  "close, transfer-encoding",
  "Content-Length",
  "keep-alive, x-agent-note, host",
  "te, trailer",
];

function picker(seed: number, index: number): Pick {
  const rand = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  return {
    int: (min, max) => min + Math.floor(rand() * (max - min + 1)),
    one: (items) => items[Math.floor(rand() * items.length)] as (typeof items)[number],
    chance: (p) => rand() < p,
  };
}

function text(p: Pick, min: number, max: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_=&{}":, ';
  let out = "";
  for (let i = p.int(min, max); i > 0; i--) out += alphabet[p.int(0, alphabet.length - 1)];
  return out;
}

/** A complete second request, to be carried inside a body (the classic smuggling payload). */
function smuggled(p: Pick, ctx: GenContext, c: number, r: number, agent: string, tunnel: boolean): string {
  const path = `${p.chance(0.5) ? "/denied/s" : "/s"}/c${c}r${r}`;
  const host = tunnel ? `${ctx.tlsHost}` : ctx.plainHost;
  const target = tunnel ? path : `http://${ctx.plainHost}${path}`;
  const method = p.one(["GET", "POST", "DELETE"]);
  const body = method === "GET" ? "" : `smuggled-${c}-${r}`;
  return `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nx-agent: ${agent}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

function body(p: Pick, ctx: GenContext, c: number, r: number, agent: string, tunnel: boolean) {
  const shape = p.one(["empty", "empty", "small", "small", "smuggle", "smuggle", "binary"] as const);
  switch (shape) {
    case "empty":
      return { shape, bytes: Buffer.alloc(0) };
    case "small":
      return { shape, bytes: Buffer.from(`b${c}r${r}:${text(p, 0, 40)}`) };
    case "binary":
      return { shape, bytes: Buffer.from(`b${c}r${r}\r\n\r\n\n0\r\n\r\n${text(p, 0, 8)}\r`, "latin1") };
    case "smuggle":
      return { shape, bytes: Buffer.from(smuggled(p, ctx, c, r, agent, tunnel), "latin1") };
  }
}

/** Applies one line-level fault to the head lines (request line first, no CRLFs yet). */
function fault(p: Pick, lines: string[]): { name: string; head: string } {
  const which = p.int(0, 99);
  const i = p.int(1, lines.length - 1);
  const join = (ls: string[]) => `${ls.join("\r\n")}\r\n\r\n`;
  if (which < 86) return { name: "", head: join(lines) };
  const copy = [...lines];
  if (which < 89) {
    const before = copy.slice(0, i).join("\r\n");
    return { name: "bare-lf", head: `${before}\n${copy.slice(i).join("\r\n")}\r\n\r\n` };
  }
  if (which < 92) {
    copy.splice(i + 1, 0, p.one([" chunked", "\t5", " x", " 0"]));
    return { name: "obs-fold", head: join(copy) };
  }
  if (which < 96) {
    copy[i] = (copy[i] as string).replace(":", p.one([" :", "\t:"]));
    return { name: "space-before-colon", head: join(copy) };
  }
  copy[i] = `${copy[i]}${p.one(["\x00", "\r", "\x0b"])}`;
  return { name: "ctl-in-value", head: join(copy) };
}

/** Builds case `index` of `seed`. */
export function generateCase(seed: number, index: number, ctx: GenContext): FuzzCase {
  const p = picker(seed, index);
  const agent = ctx.agents[index % 2] as FuzzAgent;
  const tunnel = p.chance(0.4);
  const count = p.chance(0.15) ? 1 : p.int(2, 4);
  const parts: Buffer[] = [];
  const labels: string[] = [];
  const auth = `Basic ${Buffer.from(`${agent.name}:${agent.token}`).toString("base64")}`;
  for (let r = 0; r < count; r++) {
    const method = p.chance(0.08) ? p.one(ODD_METHODS) : p.one(METHODS);
    const path = `${p.chance(0.2) ? "/denied" : "/f"}/c${index}r${r}`;
    const b = body(p, ctx, index, r, agent.name, tunnel);
    const framed = frame(p, b.bytes);
    const connection = p.chance(0.35) ? p.one(CONNECTION) : undefined;
    const target = tunnel ? path : `http://${ctx.plainHost}${p.chance(0.2) ? ":80" : ""}${path}`;
    const headers = [
      `Host: ${tunnel ? ctx.tlsHost : ctx.plainHost}`,
      `x-agent: ${agent.name}`,
      ...(tunnel ? [] : [`Proxy-Authorization: ${auth}`]),
      ...(p.chance(0.3) ? ["Authorization: Bearer fuzz", "X-Anything: 1"] : []),
      ...(p.chance(0.08) ? [`x-upstream-mode: ${p.one(["extra", "unframed"])}`] : []),
      ...framed.lines,
      ...(connection ? [`Connection: ${connection}`] : []),
    ];
    // Shuffle the field order a little (framing first or last matters to some parsers).
    if (p.chance(0.3)) headers.reverse();
    const line = `${method} ${target} HTTP/${framed.http10 ? "1.0" : "1.1"}`;
    const f = fault(p, [line, ...headers]);
    parts.push(Buffer.from(f.head, "latin1"), framed.payload);
    labels.push(
      [method, framed.label, connection ? `conn(${connection})` : "", b.shape, f.name]
        .filter(Boolean)
        .join(" "),
    );
  }
  const bytes = Buffer.concat(parts);
  const sequential = count > 1 && p.chance(0.3);
  let splits: number[] = [];
  if (sequential) {
    // Request boundaries (head + payload pairs), so each request waits for the previous answer.
    let at = 0;
    for (let k = 0; k < parts.length - 2; k += 2) {
      at += (parts[k] as Buffer).length + (parts[k + 1] as Buffer).length;
      splits.push(at);
    }
  } else if (p.chance(0.3)) splits = [p.int(1, Math.max(1, bytes.length - 1))];
  return { index, agent: agent.name, tunnel, bytes, splits, sequential, labels };
}
