/**
 * Sends exact bytes to a webhook listener over a raw socket (no HTTP client tidying anything up),
 * and signs bodies the way each HMAC platform does, so tests can forge, replay and age deliveries.
 */
import { createHmac } from "node:crypto";
import { connect } from "node:net";

export interface RawAnswer {
  readonly status: number;
  readonly body: string;
}

/** Writes `head` (CRLF lines, no blank line) and `body`; resolves with the first response. */
export function rawPost(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | string,
  o: { method?: string; declaredLength?: number | null; writeBody?: boolean } = {},
): Promise<RawAnswer> {
  const u = new URL(url);
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const lines = [
    `${o.method ?? "POST"} ${path} HTTP/1.1`,
    `Host: ${u.host}`,
    // null: no Content-Length at all (a chunked body).
    ...(o.declaredLength === null ? [] : [`Content-Length: ${o.declaredLength ?? bytes.length}`]),
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "Connection: close",
  ];
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (o.writeBody !== false) s.write(bytes);
    });
    let got = "";
    const parse = (): RawAnswer | undefined => {
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(got);
      if (!m) return undefined;
      const len = /content-length: (\d+)/i.exec(m[2] ?? "");
      const rest = m[3] ?? "";
      if (len && Buffer.byteLength(rest) < Number(len[1])) return undefined;
      return { status: Number(m[1]), body: rest };
    };
    s.setEncoding("utf8");
    s.setTimeout(15_000, () => s.destroy(new Error("no answer")));
    s.on("data", (c: string) => {
      got += c;
      const a = parse();
      if (a) {
        s.destroy();
        resolve(a);
      }
    });
    s.on("error", reject);
    s.on("close", () => {
      const a = parse();
      if (a) resolve(a);
      else reject(new Error(`connection closed without an answer: ${JSON.stringify(got.slice(0, 200))}`));
    });
  });
}

/** `sha256=<hex HMAC-SHA256(secret, body)>`: GitHub's and Meta's `x-hub-signature-256`. */
export const hubSignature = (secret: string, body: string | Buffer): string =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** Linear's `linear-signature`: bare hex HMAC-SHA256 of the body. */
export const linearSignature = (secret: string, body: string | Buffer): string =>
  createHmac("sha256", secret).update(body).digest("hex");
