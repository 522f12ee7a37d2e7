/**
 * The small part of a baileys socket the WhatsApp channel uses. Production passes the socket from
 * connect.ts (a `makeWASocket` behind a thin wrapper); tests pass test/fakes/whatsapp-socket.ts,
 * built on baileys' own event emitter. Types only: importing this file loads no baileys code.
 */
import type {
  AnyMessageContent,
  BaileysEventMap,
  Contact,
  MiscMessageGenerationOptions,
  WAMessage,
} from "baileys";

export interface WhatsAppEvents {
  on<E extends keyof BaileysEventMap>(event: E, listener: (arg: BaileysEventMap[E]) => void): void;
  /** Optional: without it, handlers of a replaced socket stay attached but ignore its events. */
  off?<E extends keyof BaileysEventMap>(event: E, listener: (arg: BaileysEventMap[E]) => void): void;
}

export interface WhatsAppSocket {
  readonly ev: WhatsAppEvents;
  /** Our own account once paired: `id` is the phone-number jid (with device), `lid` our LID. */
  readonly user?: Contact | undefined;
  sendMessage(
    jid: string,
    content: AnyMessageContent,
    options?: MiscMessageGenerationOptions,
  ): Promise<WAMessage | undefined>;
  /** Optional: "typing…" (`composing`) in a chat; WhatsApp clears it after a few seconds. */
  sendPresenceUpdate?(type: "composing" | "paused", jid: string): Promise<void>;
  /** Optional: which of these phone numbers have WhatsApp (baileys' usync query; lists only hits). */
  onWhatsApp?(...jids: string[]): Promise<{ jid: string; exists: unknown }[] | undefined>;
  /** Closes the connection; the socket then emits `connection.update` with `connection: "close"`. */
  end(error: Error | undefined): void | Promise<void>;
}

/** Builds a fresh socket (and connection); called again for every reconnect. */
export type WhatsAppConnect = () => Promise<WhatsAppSocket>;

/**
 * baileys' `DisconnectReason` values we act on, restated so the channel loads without baileys
 * (test/bot/whatsapp.test.ts checks them against the real enum).
 */
export const CLOSE_CODES = {
  loggedOut: 401,
  forbidden: 403,
  connectionClosed: 428,
  connectionReplaced: 440,
  restartRequired: 515,
} as const;

/** The status code of a Boom-shaped error (baileys' errors), if any. */
export function statusCodeOf(err: unknown): number | undefined {
  const output = (err as { output?: { statusCode?: unknown } } | undefined)?.output;
  return typeof output?.statusCode === "number" ? output.statusCode : undefined;
}
