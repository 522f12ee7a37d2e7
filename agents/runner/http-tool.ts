/**
 * The `http` tool given to brains. Requests go through the Warden proxy like any other program in
 * the container; this adds what a model needs to act sensibly: a text body cut to 100 KB, the
 * gateway's refusal parsed out of `x-warden-error` (so "approval_denied" reads as a decision, not as a
 * broken API), and a hook fired when a request is held long enough that a human is probably deciding.
 */
import { readFile } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { type ProxyEndpoint, sendViaProxy } from "./proxy-request.js";

/** A request as a brain describes it. */
export interface HttpToolRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The gateway's reason for refusing, from its `{"error":{…}}` body (DESIGN.md §3). */
export interface WardenRefusal {
  /** e.g. `policy_denied`, `approval_denied`, `approval_expired`, `host_not_allowed`. */
  readonly code: string;
  readonly message?: string;
  readonly policy?: string;
  readonly rule?: string;
}

/** What the brain sees: status, flattened headers, text body, and the refusal when there was one. */
export interface HttpToolResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly truncated: boolean;
  readonly wardenError?: WardenRefusal;
}

/** Options for {@link createHttpTool}. */
export interface HttpToolOptions {
  readonly proxy: ProxyEndpoint;
  /** Path of the CA bundle for https:// (in containers `/run/warden/ca.pem`); read on first use. */
  readonly caPath: string;
  /**
   * Called with `true` once a request has been outstanding for `heldAfterMs` (the gateway may be
   * holding it for approval) and with `false` when it completes. Default: nothing.
   */
  readonly onHeld?: (held: boolean, req: HttpToolRequest) => void;
  readonly heldAfterMs?: number;
  readonly maxBodyBytes?: number;
  /** Default 1 h: long enough for an approval to be decided or to expire at the gateway. */
  readonly timeoutMs?: number;
}

/** The tool function's type. */
export type HttpRequestFn = (req: HttpToolRequest) => Promise<HttpToolResponse>;

/** Builds `httpRequest({method, url, headers, body})` bound to the proxy and CA bundle. */
export function createHttpTool(options: HttpToolOptions): HttpRequestFn {
  const { proxy, caPath, onHeld, heldAfterMs = 1_000, maxBodyBytes = 100 * 1024 } = options;
  let ca: Promise<Buffer> | undefined;

  return async function httpRequest(req: HttpToolRequest): Promise<HttpToolResponse> {
    const https = req.url.startsWith("https:");
    if (https) ca ??= readFile(caPath);
    let held = false;
    const timer = onHeld
      ? setTimeout(() => {
          held = true;
          onHeld(true, req);
        }, heldAfterMs)
      : undefined;
    try {
      const res = await sendViaProxy(proxy, {
        method: req.method.toUpperCase(),
        url: req.url,
        headers: req.headers,
        body: req.body,
        maxBytes: maxBodyBytes,
        timeoutMs: options.timeoutMs ?? 3_600_000,
        ca: https ? await ca : undefined,
      });
      const body = res.body.toString("utf8");
      const wardenError = refusalOf(res.headers, body);
      return {
        status: res.status,
        headers: flatten(res.headers),
        body,
        truncated: res.truncated,
        ...(wardenError ? { wardenError } : {}),
      };
    } finally {
      clearTimeout(timer);
      if (held) onHeld?.(false, req);
    }
  };
}

/** Reads the gateway's refusal; the header alone is enough when the body is not the usual JSON. */
export function refusalOf(headers: IncomingHttpHeaders, body: string): WardenRefusal | undefined {
  const header = headers["x-warden-error"];
  if (typeof header !== "string") return undefined;
  try {
    const parsed = JSON.parse(body) as { error?: Record<string, unknown> };
    const e = parsed.error ?? {};
    return {
      code: typeof e.code === "string" ? e.code : header,
      ...(typeof e.message === "string" ? { message: e.message } : {}),
      ...(typeof e.policy === "string" ? { policy: e.policy } : {}),
      ...(typeof e.rule === "string" ? { rule: e.rule } : {}),
    };
  } catch {
    return { code: header };
  }
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
