/**
 * The one HTTP listener every webhook platform shares (`WARDEN_WEBHOOKS=HOST:PORT`, default
 * 127.0.0.1:7430), at `/webhooks/<platform>`. Order, for every request: route → the verifier's head
 * check (JWTs: before a byte of body is read) → the body, bounded (413) and timed (408) → signature
 * (401) → signed time (400 when more than 5 minutes off) → replay (409) → only then the platform's
 * handler (the Chat SDK adapter). Everything received is untrusted until its verifier says otherwise;
 * refusals say nothing about why beyond a stable code, and logs never carry bodies or headers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Log } from "../../gateway/index.js";
import { createReplayGuard, type ReplayGuard, type ReplayStore } from "./replay-guard.js";
import type { Verdict, WebhookDelivery, WebhookVerifier } from "./webhook-verifier.js";

/** What a platform's handler answers once a delivery is verified, fresh and new. */
export interface WebhookAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

export interface WebhookRoute {
  readonly verifier: WebhookVerifier;
  handle(d: WebhookDelivery): Promise<WebhookAnswer>;
}

export interface WebhookListener {
  /** `http://host:port` as bound (port 0 resolved). */
  readonly url: string;
  /** Adds (or replaces) a platform's route. */
  route(r: WebhookRoute): void;
  close(): Promise<void>;
}

export interface WebhookListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly log: Log;
  readonly now?: () => number;
  /** How long the whole body may take to arrive. */
  readonly bodyTimeoutMs?: number;
  /** Keeps accepted deliveries' replay keys across restarts (the bot's store). */
  readonly replayStore?: ReplayStore;
}

type Refusal = "not_found" | "method_not_allowed" | "too_large" | "request_timeout" | "replayed" | "stale";

export async function startWebhookListener(o: WebhookListenerOptions): Promise<WebhookListener> {
  const routes = new Map<string, WebhookRoute>();
  const guard: ReplayGuard = createReplayGuard(o.now, o.replayStore);
  const server: Server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      o.log("webhook_failed", { error: (err as Error).name });
      if (!res.headersSent) send(res, 500, { error: { code: "internal" } });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  function send(res: ServerResponse, status: number, body: unknown, close = false): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(text)),
      ...(close ? { connection: "close" } : {}),
    });
    res.end(text);
  }

  function refuse(res: ServerResponse, platform: string, status: number, code: string, close = false): void {
    o.log("webhook_refused", { platform, status, code });
    send(res, status, { error: { code } }, close);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The raw target, not a normalised URL: `/webhooks/github/../linear` must not become linear.
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const m = /^\/webhooks\/([a-z0-9-]{1,32})(?:\/([A-Za-z0-9_-]{1,128}))?\/?$/.exec(
      q < 0 ? target : target.slice(0, q),
    );
    const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
    const found = m?.[1] ? routes.get(m[1]) : undefined;
    // A path token only where the route takes one (unsigned platforms), and there always.
    const route = found && (found.verifier.pathToken === true) === (m?.[2] !== undefined) ? found : undefined;
    if (!route || !m?.[1]) return refuse(res, "-", 404, "not_found" satisfies Refusal, true);
    const platform = m[1];
    const method = req.method ?? "";
    if (method !== "POST" && method !== "GET")
      return refuse(res, platform, 405, "method_not_allowed" satisfies Refusal, true);
    const head = { method, headers: req.headers, query, ...(m[2] ? { pathToken: m[2] } : {}) };
    const early = await route.verifier.head?.(head);
    if (early) return finish(res, platform, early, undefined, route);
    const body = await readBody(req, route.verifier.maxBytes, o.bodyTimeoutMs ?? 10_000);
    if (body === "too_large") return refuse(res, platform, 413, "too_large" satisfies Refusal, true);
    if (body === "timeout") return refuse(res, platform, 408, "request_timeout" satisfies Refusal, true);
    const delivery: WebhookDelivery = { ...head, body };
    return finish(res, platform, await route.verifier.verify(delivery), delivery, route);
  }

  async function finish(
    res: ServerResponse,
    platform: string,
    v: Verdict,
    d: WebhookDelivery | undefined,
    route: WebhookRoute,
  ): Promise<void> {
    if (v.kind === "refused") return refuse(res, platform, v.status, v.reason, true);
    if (v.kind === "answer") {
      res.writeHead(v.status, {
        "content-type": v.contentType ?? "text/plain",
        "content-length": String(Buffer.byteLength(v.body)),
      });
      res.end(v.body);
      return;
    }
    if (v.kind === "ignored") return send(res, 200, {});
    // A head check may refuse or answer; only a verified body reaches a handler.
    if (!d) return refuse(res, platform, 401, "unsigned", true);
    const judged = await guard.admit(platform, v.replayKeys, v.signedAtMs, v.expiresAtMs);
    if (judged.kind === "stale") return refuse(res, platform, 400, "stale" satisfies Refusal);
    if (judged.kind === "replayed") return refuse(res, platform, 409, "replayed" satisfies Refusal);
    if (judged.kind === "full") return refuse(res, platform, 503, "busy");
    let answer: WebhookAnswer;
    try {
      answer = await route.handle(d);
    } catch (err) {
      await judged.release();
      throw err;
    }
    // The platform retries what failed; its retry must not look like a replay.
    if (answer.status >= 500) await judged.release();
    res.writeHead(answer.status, {
      "content-type": "application/json",
      ...answer.headers,
      "content-length": String(Buffer.byteLength(answer.body)),
    });
    res.end(answer.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    route(r) {
      routes.set(r.verifier.platform, r);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Reads at most `max` bytes within `ms`; a declared or actual larger body stops reading at once. */
function readBody(req: IncomingMessage, max: number, ms: number): Promise<Buffer | "too_large" | "timeout"> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (!Number.isFinite(declared) || declared > max) return Promise.resolve("too_large");
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => done("timeout"), ms);
    const done = (v: Buffer | "too_large" | "timeout"): void => {
      clearTimeout(timer);
      req.removeAllListeners("data");
      if (typeof v === "string") req.pause();
      resolve(v);
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) return done("too_large");
      parts.push(chunk);
    });
    req.on("end", () => done(Buffer.concat(parts)));
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
