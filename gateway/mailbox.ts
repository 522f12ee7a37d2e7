/**
 * The reserved host `warden.internal`: how an agent talks to its chat without any network. The agent
 * is identified by its socket (or proxy credentials), so it can only read its own inbox and write its
 * own outbox. Everything it sends is untrusted text: sizes are capped and the bot renders it as the
 * agent's words. Protocol: GET /v1/inbox?wait=S, POST /v1/outbox, POST /v1/ask, POST /v1/status.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { readJson } from "./read-json.js";
import type { Store } from "./store.js";

export interface InboxMessage {
  readonly id: string;
  readonly text: string;
  readonly from: string | null;
  readonly at: string;
}
export interface OutboxMessage {
  readonly seq: number;
  readonly agent: string;
  readonly text: string;
  readonly replyTo: string | null;
  readonly at: string;
}
export interface AgentStatus {
  readonly state: "idle" | "thinking" | "waiting_approval" | "done" | "error";
  readonly detail: string | null;
  readonly at: string;
}
export interface PendingAsk {
  readonly id: string;
  readonly agent: string;
  readonly question: string;
  readonly at: string;
}

/** Where the mailbox tells the bot about agent output. All optional. */
export interface MailboxEvents {
  outbox?(msg: OutboxMessage): void;
  status?(agent: string, status: AgentStatus): void;
  ask?(ask: PendingAsk): void;
  /** A chat message was queued for the agent (the runtime may need to wake it). */
  delivered?(agent: string): void;
}

const Outbox = z.strictObject({
  text: z
    .string()
    .min(1)
    .max(64 * 1024),
  replyTo: z.string().max(64).optional(),
});
const Ask = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  question: z
    .string()
    .min(1)
    .max(8 * 1024),
});
const Status = z.strictObject({
  state: z.enum(["idle", "thinking", "waiting_approval", "done", "error"]),
  detail: z.string().max(1024).optional(),
});
const MAX_WAIT_S = 30;
const ASK_WAIT_MS = 25_000;
const MAX_OUTBOX = 1000;

/** Where queued messages live, so nothing waiting for an agent or a human is lost on restart. */
export type MailboxStore = Pick<
  Store,
  | "pushInbox"
  | "takeInbox"
  | "hasInbox"
  | "appendOutbox"
  | "listOutbox"
  | "forgetMailbox"
  | "notify"
  | "listen"
>;

/** Store topic announcing "agent X has new inbox messages" to the replica holding its long poll. */
const INBOX_TOPIC = "inbox";

/** Creates the per-agent queues and the `warden.internal` request handler. */
export function createMailbox(store: MailboxStore, events: MailboxEvents = {}, now: () => number = Date.now) {
  const inboxWaiters = new Map<string, Set<() => void>>();
  const statuses = new Map<string, AgentStatus>();
  const asks = new Map<string, PendingAsk & { answer?: string; waiters: Set<() => void> }>();
  const iso = (): string => new Date(now()).toISOString();

  function wake(set: Set<() => void> | undefined): void {
    for (const w of [...(set ?? [])]) w();
  }
  store.listen(INBOX_TOPIC, (agent) => wake(inboxWaiters.get(agent)));

  /** Waits for `ready()` or `ms`, whichever is first; stops early if the agent hangs up. */
  function waitFor(set: Set<() => void>, ms: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        // The runner long-polls over one keep-alive connection: never leave a listener behind on it.
        req.socket.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
      req.socket.once("close", done);
    });
  }

  async function handle(agent: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://warden.internal");
    const route = `${req.method} ${url.pathname}`;
    const body = req.method === "POST" ? await readJson(req, 128 * 1024) : undefined;
    if (route === "GET /v1/inbox") {
      const wait = Math.min(Math.max(Number(url.searchParams.get("wait") ?? 0) || 0, 0), MAX_WAIT_S);
      if (!(await store.hasInbox(agent)) && wait > 0) {
        const set = inboxWaiters.get(agent) ?? new Set();
        inboxWaiters.set(agent, set);
        await waitFor(set, wait * 1000, req);
      }
      if (res.destroyed) return; // keep the messages for the next poll
      return json(res, 200, { messages: await store.takeInbox(agent) });
    }
    if (route === "POST /v1/outbox") {
      const b = Outbox.safeParse(body);
      if (!b.success)
        return json(res, 400, { error: { code: "bad_request", message: z.prettifyError(b.error) } });
      const fields = { text: b.data.text, replyTo: b.data.replyTo ?? null, at: iso() };
      const msg: OutboxMessage = { seq: await store.appendOutbox(agent, fields), agent, ...fields };
      events.outbox?.(msg);
      return json(res, 204);
    }
    if (route === "POST /v1/ask") {
      const b = Ask.safeParse(body);
      if (!b.success)
        return json(res, 400, { error: { code: "bad_request", message: z.prettifyError(b.error) } });
      const key = `${agent}\u0000${b.data.id}`;
      let ask = asks.get(key);
      if (!ask) {
        ask = { id: b.data.id, agent, question: b.data.question, at: iso(), waiters: new Set() };
        asks.set(key, ask);
        events.ask?.({ id: ask.id, agent, question: ask.question, at: ask.at });
      }
      if (ask.answer === undefined) await waitFor(ask.waiters, ASK_WAIT_MS, req);
      if (ask.answer === undefined) return json(res, 202, { pending: true });
      asks.delete(key);
      return json(res, 200, { answer: ask.answer });
    }
    if (route === "POST /v1/status") {
      const b = Status.safeParse(body);
      if (!b.success)
        return json(res, 400, { error: { code: "bad_request", message: z.prettifyError(b.error) } });
      const status: AgentStatus = { state: b.data.state, detail: b.data.detail ?? null, at: iso() };
      statuses.set(agent, status);
      events.status?.(agent, status);
      return json(res, 204);
    }
    return json(res, 404, { error: { code: "not_found", message: `no route ${route} on warden.internal` } });
  }

  return {
    /** Serves warden.internal for one identified agent. */
    handler(agent: string, req: IncomingMessage, res: ServerResponse): void {
      handle(agent, req, res).catch(() =>
        json(res, 400, { error: { code: "bad_request", message: "bad request" } }),
      );
    },
    /** Queues a chat message for the agent; returns its id. */
    async deliver(agent: string, text: string, from: string | null): Promise<string> {
      const msg: InboxMessage = { id: randomUUID(), text, from, at: iso() };
      await store.pushInbox(agent, msg);
      // The agent's long poll may be held by another replica: tell them all (ourselves included).
      await store.notify(INBOX_TOPIC, agent).catch(() => wake(inboxWaiters.get(agent)));
      events.delivered?.(agent);
      return msg.id;
    },
    /** Answers an agent's question; false when there is no such question. */
    answer(agent: string, id: string, answer: string): boolean {
      const ask = asks.get(`${agent}\u0000${id}`);
      if (!ask || ask.answer !== undefined) return false;
      ask.answer = answer;
      wake(ask.waiters);
      return true;
    },
    /** Replies after `after`, oldest first, at most MAX_OUTBOX of them. */
    outbox: async (agent: string, after = 0): Promise<OutboxMessage[]> =>
      (await store.listOutbox(agent, after, MAX_OUTBOX)).map((m) => ({ ...m, agent })),
    status: (agent: string): AgentStatus | undefined => statuses.get(agent),
    asks: (agent: string): PendingAsk[] =>
      [...asks.values()]
        .filter((a) => a.agent === agent && a.answer === undefined)
        .map(({ id, question, at }) => ({ id, agent, question, at })),
    async forget(agent: string): Promise<void> {
      await store.forgetMailbox(agent);
      statuses.delete(agent);
    },
  };
}

export type Mailbox = ReturnType<typeof createMailbox>;

function json(res: ServerResponse, status: number, body?: unknown): void {
  if (res.headersSent || res.destroyed) return;
  if (body === undefined) return void res.writeHead(status).end();
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
