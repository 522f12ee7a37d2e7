/**
 * Node's own HTTP parser (llhttp, through the `_http_common` binding every Node HTTP server uses),
 * run offline over a recorded byte stream: the second opinion next to `strict-parser.ts`. The
 * fuzzer runs both over what the upstream received (they must agree) and over what the agent sent
 * (llhttp is what the gateway itself reads, so it is the reference for what the gateway checked).
 * Untrusted: the bytes. Strict mode (no lenient flags), default header size limit.
 */
import { createRequire } from "node:module";
import type { HeaderList } from "./strict-parser.js";

interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  close(): void;
  [key: number]: unknown;
}
interface HttpParserClass {
  new (): HttpParser;
  readonly REQUEST: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
}

const common = createRequire(import.meta.url)("_http_common") as {
  HTTPParser: HttpParserClass;
  methods: readonly string[];
};
const { HTTPParser } = common;
// `_http_common` exports only the HTTP methods; llhttp numbers its RTSP ones and QUERY after them
// (what Node's server reads from the internal `allMethods` table).
const methods = [
  ...common.methods,
  ...["DESCRIBE", "ANNOUNCE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER"],
  ...["REDIRECT", "RECORD", "FLUSH", "QUERY"],
];

export interface LlRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: HeaderList;
  body: Buffer;
  complete: boolean;
  readonly keepAlive: boolean;
  readonly upgrade: boolean;
}

export interface LlParse {
  readonly requests: LlRequest[];
  /** llhttp's error code and reason, when it refused the bytes. */
  readonly error?: string;
}

function pairs(raw: readonly string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

/** Parses one connection's bytes as a stream of requests. Incomplete last messages are kept. */
export function llhttpParse(bytes: Buffer): LlParse {
  const requests: LlRequest[] = [];
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  let headerParts: string[] = [];
  let urlPart = "";
  let bodyParts: Buffer[] = [];
  parser[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
    headerParts = headerParts.concat(headers);
    urlPart += url;
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    _status: unknown,
    _message: unknown,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    const all = headers ?? headerParts;
    requests.push({
      method: methods[method] ?? `#${method}`,
      target: url ?? urlPart,
      headers: pairs(all),
      body: Buffer.alloc(0),
      complete: false,
      keepAlive,
      upgrade,
    });
    headerParts = [];
    urlPart = "";
    bodyParts = [];
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
    bodyParts.push(Buffer.from(chunk));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    const last = requests[requests.length - 1];
    if (!last) return;
    last.body = Buffer.concat(bodyParts);
    last.complete = true;
    bodyParts = [];
    // Trailers arrive through kOnHeaders too; they belong to this message, not the next one.
    headerParts = [];
    urlPart = "";
  };
  let error: string | undefined;
  const done = parser.execute(bytes);
  if (done instanceof Error) {
    const e = done as Error & { code?: string; reason?: string; bytesParsed?: number };
    error = `${e.code ?? "error"}: ${e.reason ?? e.message} at ${e.bytesParsed ?? "?"}`;
  }
  const last = requests[requests.length - 1];
  if (last && !last.complete) last.body = Buffer.concat(bodyParts);
  parser.close();
  return error === undefined ? { requests } : { requests, error };
}
