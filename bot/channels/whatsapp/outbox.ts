/**
 * Outgoing WhatsApp messages: one queue per chat, so messages to a chat leave in order and at
 * least `gapMs` apart (WhatsApp bans accounts that burst), and one retry after a rate-limit error
 * (baileys surfaces a Boom 429 / `rate-overlimit`). Errors become plain sentences; they never carry
 * what we tried to send.
 */
import type { WAMessage } from "baileys";
import { oneLine } from "../text.js";
import { CLOSE_CODES, statusCodeOf, type WhatsAppSocket } from "./socket.js";
import type { Sleep } from "./supervisor.js";

type SendArgs = [Parameters<WhatsAppSocket["sendMessage"]>[1], Parameters<WhatsAppSocket["sendMessage"]>[2]?];

export interface OutboxOptions {
  readonly socket: () => WhatsAppSocket | undefined;
  readonly sleep: Sleep;
  readonly gapMs: number;
  readonly retryMs: number;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
}

export const isRateLimited = (err: unknown): boolean =>
  statusCodeOf(err) === 429 || /rate-overlimit/i.test(err instanceof Error ? err.message : String(err));

/** A baileys error as a sentence for the person who asked; `what` names the operation. */
export function humanError(what: string, err: unknown): Error {
  const code = statusCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  let hint = oneLine(message, 200);
  if (isRateLimited(err)) hint = "WhatsApp is rate-limiting this account; try again later";
  else if (code === CLOSE_CODES.connectionClosed || /connection closed/i.test(message))
    hint = "not connected to WhatsApp (reconnecting)";
  else if (code === CLOSE_CODES.loggedOut) hint = "logged out of WhatsApp; pair again";
  else if (code === CLOSE_CODES.forbidden || /not-authorized|forbidden/i.test(message))
    hint = "WhatsApp refused (deleting others' messages needs the bot to be a group admin)";
  return new Error(`WhatsApp ${what} failed: ${hint}`);
}

export function createOutbox(o: OutboxOptions) {
  const queues = new Map<string, Promise<void>>();

  async function attempt(what: string, jid: string, args: SendArgs): Promise<WAMessage> {
    for (let n = 0; ; n++) {
      try {
        const sock = o.socket();
        if (!sock) throw Object.assign(new Error("Connection Closed"), { output: { statusCode: 428 } });
        const m = await sock.sendMessage(jid, ...args);
        if (!m?.key?.id) throw new Error("no message was sent");
        return m;
      } catch (err) {
        if (n > 0 || !isRateLimited(err)) throw humanError(what, err);
        o.log("whatsapp.rate_limited", { what });
        await o.sleep(o.retryMs);
      }
    }
  }

  /** Sends on `jid`'s queue; resolves with the message WhatsApp accepted. */
  function send(what: string, jid: string, ...args: SendArgs): Promise<WAMessage> {
    const result = (queues.get(jid) ?? Promise.resolve()).then(() => attempt(what, jid, args));
    const spaced = () => o.sleep(o.gapMs).catch(() => undefined);
    const next = result.then(spaced, spaced);
    queues.set(jid, next);
    void next.then(() => queues.get(jid) === next && queues.delete(jid));
    return result;
  }

  return { send };
}
