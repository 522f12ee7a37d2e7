/**
 * Small HTTP helpers for the web chat: capped JSON bodies, JSON and HTML replies with the
 * security headers every response carries (no caching, no framing, no referrer, strict CSP).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export type BodyResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly status: 400 | 413 | 415 };

const COMMON_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
} as const;

/** Reads a JSON body of at most `maxBytes`; anything larger is 413 before it is buffered whole. */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") return drain(req, { ok: false, status: 415 });
  const declared = Number(req.headers["content-length"] ?? "0");
  if (Number.isFinite(declared) && declared > maxBytes) return drain(req, { ok: false, status: 413 });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyResult): void => {
      if (done) return;
      done = true;
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        finish({ ok: false, status: 413 });
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        finish({ ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown });
      } catch {
        finish({ ok: false, status: 400 });
      }
    });
    req.on("error", () => finish({ ok: false, status: 400 }));
  });
}

// The rest of an oversized body is read and dropped so the client sees our status, not a reset.
function drain(req: IncomingMessage, result: BodyResult): Promise<BodyResult> {
  req.resume();
  return Promise.resolve(result);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends a page whose only script and style are the inline ones carrying `nonce`. */
export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  nonce: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    "content-type": "text/html; charset=utf-8",
    "content-length": Buffer.byteLength(html),
    "content-security-policy":
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` +
      "connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ...headers,
  });
  res.end(html);
}

/** Headers for a Server-Sent Events stream. */
export function sseHeaders(): Record<string, string> {
  return {
    ...COMMON_HEADERS,
    "content-type": "text/event-stream; charset=utf-8",
    connection: "keep-alive",
  };
}
