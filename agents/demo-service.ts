/**
 * The local demo service behind the quick start (policy preset `demo.yaml`, host demo.warden.local):
 * a fake inbox, calendar and mail sender on 127.0.0.1. It checks a bearer key, so the quick start
 * shows a placeholder being swapped for the real DEMO_API_KEY by the gateway. Not a real mail system.
 * Under `/family/` (host family.warden.local, the `/setup family` policy) it is also a pretend family
 * service: a shared calendar and shopping list to read, and bookings, orders and outside messages
 * that are only recorded, so the family assistant's approvals can be tried end to end.
 */
import { timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface SentMail {
  readonly id: number;
  readonly to: string;
  readonly subject: string;
  readonly body: string;
  readonly at: string;
}

const INBOX = [
  { id: 1, from: "alice@example.com", subject: "Quarterly report draft", received: "09:12" },
  { id: 2, from: "bob@example.com", subject: "Lunch on Thursday?", received: "10:40" },
  { id: 3, from: "billing@example.com", subject: "Invoice #1042 is due", received: "11:05" },
];
const CALENDAR = [
  { time: "10:00", title: "Stand-up" },
  { time: "14:30", title: "Review with Alice" },
];

/** A booking, order or outside message the family assistant made (recorded, nothing real happens). */
export interface FamilyAction {
  readonly kind: "bookings" | "orders" | "messages";
  readonly body: Record<string, unknown>;
  readonly at: string;
}

const FAMILY_CALENDAR = [
  { day: "Saturday", time: "09:30", title: "Swimming lesson (Sam)" },
  { day: "Sunday", time: "13:00", title: "Lunch at Grandma's" },
];
const SHOPPING = ["milk", "bread", "apples"];

/** Starts the demo service on 127.0.0.1 (port 0 = any). */
export async function startDemoService(opts: { apiKey: string; port?: number }) {
  const sent: SentMail[] = [];
  const family: FamilyAction[] = [];
  const shopping = [...SHOPPING];
  const expected = Buffer.from(`Bearer ${opts.apiKey}`);
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    const given = Buffer.from(req.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return reply(401, { error: "missing or wrong API key" });
    }
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/inbox") return reply(200, { messages: INBOX });
    if (req.method === "GET" && path?.startsWith("/calendar/"))
      return reply(200, { day: path.slice(10), events: CALENDAR });
    if (req.method === "GET" && path === "/family/calendar") return reply(200, { events: FAMILY_CALENDAR });
    if (req.method === "GET" && path === "/family/shopping") return reply(200, { items: shopping });
    const familyWrite = /^\/family\/(shopping|bookings|orders|messages)$/.exec(path ?? "");
    if (req.method === "POST" && familyWrite?.[1]) {
      const kind = familyWrite[1];
      return readJson(req, reply, (body) => {
        if (kind === "shopping") {
          shopping.push(String(body.item ?? "").slice(0, 100));
          return reply(200, { items: shopping });
        }
        family.push({ kind: kind as FamilyAction["kind"], body, at: new Date().toISOString() });
        reply(200, { ok: true, id: family.length });
      });
    }
    if (req.method === "POST" && path === "/send") {
      return readJson(req, reply, (mail: Partial<SentMail>) => {
        const entry = {
          id: sent.length + 1,
          to: String(mail.to ?? ""),
          subject: String(mail.subject ?? ""),
          body: String(mail.body ?? ""),
          at: new Date().toISOString(),
        };
        sent.push(entry);
        reply(200, { sent: true, id: entry.id });
      });
    }
    if (req.method === "DELETE" && path?.startsWith("/inbox/")) return reply(200, { deleted: true });
    reply(404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, "127.0.0.1", () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    sent,
    family,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Reads a JSON object body (≤ 64 KB kept); answers 400 itself when it is not one. */
function readJson<T extends Record<string, unknown>>(
  req: http.IncomingMessage,
  reply: (status: number, body: unknown) => void,
  then: (body: T) => void,
): void {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (c: string) => {
    if (raw.length < 64 * 1024) raw += c;
  });
  req.on("end", () => {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return reply(400, { error: "body must be JSON" });
    }
    if (typeof body !== "object" || body === null || Array.isArray(body))
      return reply(400, { error: "body must be a JSON object" });
    then(body as T);
  });
}
