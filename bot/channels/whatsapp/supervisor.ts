/**
 * Keeps one WhatsApp socket alive: builds it, attaches the channel's handlers, and on a close
 * builds a fresh one (baileys sockets are single-use) with jittered exponential backoff, 1 s → 60 s.
 * Exceptions: `restartRequired` (sent right after pairing) reconnects at once; `loggedOut` (the
 * phone unlinked us; connect.ts has cleared the credentials) reconnects promptly to show a new QR;
 * `connectionReplaced` and `forbidden` stop: another session took over, or WhatsApp refused the
 * account, and retrying would only fight it. Events of a replaced socket are ignored.
 */
import { CLOSE_CODES, statusCodeOf, type WhatsAppConnect, type WhatsAppSocket } from "./socket.js";

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;
type Log = (event: string, fields: Record<string, unknown>) => void;

export interface SupervisorOptions {
  readonly connect: WhatsAppConnect;
  /** Attaches message handlers to a new socket; returns what detaches them. */
  readonly attach: (sock: WhatsAppSocket) => () => void;
  readonly sleep: Sleep;
  readonly random: () => number;
  readonly now: () => number;
  readonly log: Log;
}

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 60_000;

export function superviseConnection(o: SupervisorOptions) {
  let sock: WhatsAppSocket | undefined;
  let detach: (() => void) | undefined;
  let stopped = true;
  let attempts = 0;
  let abort = new AbortController();
  let openedAt = 0;

  /** Half to all of 1 s·2ⁿ, capped at 60 s: many bots restarting together do not retry in step. */
  function backoff(): number {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempts, 16));
    attempts++;
    return Math.round(base / 2 + (o.random() * base) / 2);
  }

  async function open(): Promise<void> {
    const s = await o.connect();
    if (stopped) {
      await Promise.resolve(s.end(undefined)).catch(() => undefined);
      return;
    }
    sock = s;
    openedAt = o.now();
    const off = o.attach(s);
    const onUpdate = (u: Parameters<typeof onConnectionUpdate>[1]) => onConnectionUpdate(s, u);
    s.ev.on("connection.update", onUpdate);
    detach = () => {
      off();
      s.ev.off?.("connection.update", onUpdate);
    };
  }

  function onConnectionUpdate(
    s: WhatsAppSocket,
    u: { connection?: string; qr?: string; lastDisconnect?: { error?: unknown } },
  ): void {
    if (s !== sock || stopped) return;
    if (u.qr) o.log("whatsapp.pairing", { hint: "scan the QR code with WhatsApp → Linked devices" });
    if (u.connection === "open") {
      attempts = 0;
      o.log("whatsapp.open", {});
    }
    if (u.connection !== "close") return;
    const code = statusCodeOf(u.lastDisconnect?.error);
    detach?.();
    detach = undefined;
    sock = undefined;
    if (code === CLOSE_CODES.connectionReplaced || code === CLOSE_CODES.forbidden) {
      const why =
        code === CLOSE_CODES.forbidden
          ? "WhatsApp refused this account"
          : "another session replaced this one";
      o.log("whatsapp.gave_up", { code, why });
      return;
    }
    if (code === CLOSE_CODES.loggedOut) attempts = 0;
    const delay =
      code === CLOSE_CODES.restartRequired ? 0 : code === CLOSE_CODES.loggedOut ? BACKOFF_MIN_MS : backoff();
    o.log("whatsapp.closed", { code: code ?? null, reconnectInMs: delay });
    void reconnect(delay);
  }

  async function reconnect(delay: number): Promise<void> {
    const { signal } = abort;
    try {
      await o.sleep(delay, signal);
    } catch {
      return; // aborted by stop()
    }
    if (stopped || signal.aborted) return;
    try {
      await open();
    } catch (err) {
      if (stopped || signal.aborted) return;
      const next = backoff();
      o.log("whatsapp.connect_failed", { error: (err as Error).name, reconnectInMs: next });
      void reconnect(next);
    }
  }

  return {
    /** Connects once; resolves when the socket exists (pairing or opening goes on in the background). */
    async start(): Promise<void> {
      if (!stopped) throw new Error("WhatsApp channel already started");
      stopped = false;
      abort = new AbortController();
      attempts = 0;
      try {
        await open();
      } catch (err) {
        stopped = true;
        throw err;
      }
    },
    async stop(): Promise<void> {
      stopped = true;
      abort.abort();
      detach?.();
      detach = undefined;
      const s = sock;
      sock = undefined;
      if (s) await Promise.resolve(s.end(undefined)).catch(() => undefined);
    },
    current: (): WhatsAppSocket | undefined => sock,
    /** When the current socket was built (ms): older "new" messages are history, not commands. */
    openedAt: (): number => openedAt,
  };
}
