/**
 * Client for the agent's chat mailbox, served by the gateway itself at the reserved host
 * `warden.internal` (DESIGN.md §5). It goes through the same proxy as everything else, so the gateway
 * knows which agent is talking from the socket (or, outside containers, from Proxy-Authorization).
 * The gateway may restart under us: connection failures and 5xx answers are retried with backoff.
 */
import { randomUUID } from "node:crypto";
import { RunnerError } from "./errors.js";
import { type ProxiedResponse, type ProxyEndpoint, sendViaProxy } from "./proxy-request.js";

/** One chat message for the agent; each is delivered once. */
export interface InboxMessage {
  readonly id: string;
  readonly text: string;
  readonly from: string | null;
  readonly at: string;
}

/** What the agent tells the chat it is doing. */
export type AgentState = "idle" | "thinking" | "waiting_approval" | "done" | "error";

/** The mailbox protocol, one method per endpoint. */
export interface MailboxClient {
  /** Long-polls up to `waitSeconds` (max 30); resolves `[]` when nothing arrived. */
  inbox(waitSeconds?: number, signal?: AbortSignal): Promise<InboxMessage[]>;
  /** Posts a reply to the chat (text is cut to the 64 KB the gateway accepts). */
  reply(text: string, replyTo?: string): Promise<void>;
  /** Asks the human and waits (re-posting the same id every ~25 s) until someone answers. */
  ask(question: string, signal?: AbortSignal): Promise<string>;
  status(state: AgentState, detail?: string): Promise<void>;
}

/** Options; `sleep` and `newId` are injectable so tests need not wait or guess ids. */
export interface MailboxClientOptions {
  readonly proxy: ProxyEndpoint;
  /** First retry delay; doubles up to `maxDelayMs`. Default 250 ms. */
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Attempts for one call before giving up; default unlimited, as the runner has nothing else to do. */
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly newId?: () => string;
}

const BASE = "http://warden.internal/v1";
const MAX_TEXT_BYTES = 64 * 1024;

/** Creates a mailbox client that talks to `warden.internal` through `proxy`. */
export function createMailboxClient(options: MailboxClientOptions): MailboxClient {
  const {
    proxy,
    initialDelayMs = 250,
    maxDelayMs = 5_000,
    maxAttempts = Number.POSITIVE_INFINITY,
    sleep = defaultSleep,
    newId = randomUUID,
  } = options;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    timeoutMs = 60_000,
  ) {
    let delay = initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      let failure: RunnerError;
      try {
        const res = await sendViaProxy(proxy, {
          method,
          url: `${BASE}${path}`,
          headers: body === undefined ? {} : { "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
          timeoutMs,
          signal,
        });
        // 5xx is the gateway restarting or shutting down: the next gateway will answer.
        if (res.status < 500) return res;
        failure = new RunnerError("proxy_unreachable", `${method} ${path} answered ${res.status}`);
      } catch (err) {
        if (!(err instanceof RunnerError) || err.code !== "proxy_unreachable") throw err;
        failure = err;
      }
      if (attempt >= maxAttempts) throw failure;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, maxDelayMs);
    }
  }

  return {
    async inbox(waitSeconds = 25, signal) {
      const wait = Math.max(0, Math.min(30, Math.floor(waitSeconds)));
      // Allow the server its full wait plus slack before deciding the connection is dead.
      const res = await call("GET", `/inbox?wait=${wait}`, undefined, signal, (wait + 15) * 1000);
      const parsed = expectJson(res, 200, "GET /inbox") as { messages?: unknown };
      if (!Array.isArray(parsed.messages)) throw rejected("GET /inbox", res, "no messages array");
      return parsed.messages
        .filter(isInboxMessage)
        .map((m) => ({ id: m.id, text: m.text, from: typeof m.from === "string" ? m.from : null, at: m.at }));
    },
    async reply(text, replyTo) {
      const body = replyTo === undefined ? { text: cut(text) } : { text: cut(text), replyTo };
      expectStatus(await call("POST", "/outbox", body), 204, "POST /outbox");
    },
    async ask(question, signal) {
      const id = newId();
      for (;;) {
        const res = await call("POST", "/ask", { id, question: cut(question) }, signal);
        if (res.status === 202) continue; // still pending: the same id keeps the same question
        const parsed = expectJson(res, 200, "POST /ask") as { answer?: unknown };
        if (typeof parsed.answer !== "string") throw rejected("POST /ask", res, "no answer string");
        return parsed.answer;
      }
    },
    async status(state, detail) {
      const body = detail === undefined ? { state } : { state, detail: cut(detail) };
      expectStatus(await call("POST", "/status", body), 204, "POST /status");
    },
  };
}

function expectStatus(res: ProxiedResponse, status: number, what: string): void {
  if (res.status !== status) throw rejected(what, res, `expected ${status}`);
}

function expectJson(res: ProxiedResponse, status: number, what: string): Record<string, unknown> {
  expectStatus(res, status, what);
  try {
    const value: unknown = JSON.parse(res.body.toString("utf8"));
    if (value && typeof value === "object") return value as Record<string, unknown>;
  } catch {
    // fall through: reported below with the status
  }
  throw rejected(what, res, "body is not a JSON object");
}

function rejected(what: string, res: ProxiedResponse, why: string): RunnerError {
  const code = res.headers["x-warden-error"];
  const suffix = typeof code === "string" ? ` (${code})` : "";
  return new RunnerError("mailbox_rejected", `${what} answered ${res.status}${suffix}: ${why}`);
}

function isInboxMessage(m: unknown): m is InboxMessage {
  const v = m as Partial<InboxMessage> | null;
  return typeof v?.id === "string" && typeof v.text === "string" && typeof v.at === "string";
}

/** Cuts to the gateway's 64 KB limit on a character boundary (a split surrogate would be invalid). */
function cut(text: string): string {
  if (Buffer.byteLength(text) <= MAX_TEXT_BYTES) return text;
  const marker = "\n…[truncated]";
  const bytes = Buffer.from(text).subarray(0, MAX_TEXT_BYTES - Buffer.byteLength(marker));
  return bytes.toString("utf8").replace(/\uFFFD$/, "") + marker;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
