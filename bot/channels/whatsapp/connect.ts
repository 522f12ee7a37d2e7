/**
 * Production WhatsApp connection: the ONLY file that loads baileys at runtime (an optional
 * dependency: it pulls in GPL-3.0 libsignal). Load it lazily (index.ts `loadWhatsAppConnect`).
 *
 * `connectWhatsApp` builds one socket; the channel calls it again for every reconnect (backoff is
 * the channel's supervisor.ts). The credentials are the WhatsApp account itself: in the bot store,
 * sealed (`authStore`, store-auth.ts; replicas share them, so a new leader keeps the linked device),
 * or in `authDir` (created 0700). Either is cleared when the phone unlinks us (then the next connect
 * shows a new QR). baileys' logs go through a quiet logger that keeps only the static message string and
 * an error's class name, never the objects it passes (they can hold message contents and numbers).
 */
import { rmSync } from "node:fs";
import { chmod, mkdir } from "node:fs/promises";
import makeWASocket, {
  type AuthenticationState,
  DisconnectReason,
  type proto,
  type SocketConfig,
  type UserFacingSocketConfig,
  useMultiFileAuthState,
  type WASocket,
} from "baileys";
import type { WhatsAppSocket } from "./socket.js";
import { type StoreAuthOptions, storeAuthState } from "./store-auth.js";
import { statusCodeOf } from "./socket.js";

export type WhatsAppStatus = "pairing" | "open" | "closed" | "logged_out";

export interface ConnectWhatsAppOptions {
  /** Keep the credentials sealed in the bot store's rows (cleared on logout); wins over `authDir`. */
  readonly authStore?: StoreAuthOptions;
  /** Or keep them in this directory (created 0700; cleared on logout). */
  readonly authDir?: string;
  /** Called with every pairing QR baileys emits (render with qr.ts); QRs rotate every ~20 s. */
  readonly onQr: (qr: string) => void;
  readonly onStatus?: (status: WhatsAppStatus, detail: string) => void;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /**
   * Another WhatsApp Web endpoint (`WHATSAPP_WS_URL`, `ws://` or `wss://`), e.g. a self-hosted test
   * server: baileys' `waWebSocketUrl` (default `wss://web.whatsapp.com/ws/chat`).
   */
  readonly wsUrl?: string;
  /** Builds the socket; default baileys' makeWASocket. Tests pass a fake (never a real connection). */
  readonly makeSocket?: (
    config: UserFacingSocketConfig,
  ) => Pick<WASocket, "ev" | "user" | "sendMessage" | "end"> &
    Partial<Pick<WASocket, "onWhatsApp" | "sendPresenceUpdate">>;
}

const SENT_CACHE = 500;
type ILogger = SocketConfig["logger"]; // baileys does not export its ILogger

/** A pino-shaped logger that forwards warnings and errors without their payloads. */
export function quietLogger(log: NonNullable<ConnectWhatsAppOptions["log"]>): ILogger {
  const forward =
    (level: string) =>
    (obj: unknown, msg?: string): void => {
      const text = typeof obj === "string" ? obj : msg;
      const err = (obj as { err?: unknown; error?: unknown } | undefined) ?? {};
      const e = err.err ?? err.error ?? (obj instanceof Error ? obj : undefined);
      log(`whatsapp.baileys_${level}`, {
        msg: typeof text === "string" ? text.slice(0, 200) : undefined,
        ...(e instanceof Error ? { error: e.name } : {}),
      });
    };
  const quiet = (): void => undefined;
  const logger: ILogger = {
    level: "warn",
    child: () => logger,
    trace: quiet,
    debug: quiet,
    info: quiet,
    warn: forward("warn"),
    error: forward("error"),
  };
  return logger;
}

/** The credentials from the store or the directory, and how to delete them on logout. */
async function openAuth(o: ConnectWhatsAppOptions): Promise<{
  state: AuthenticationState;
  saveCreds(): Promise<void>;
  clear(): Promise<void>;
}> {
  if (o.authStore) return storeAuthState(o.authStore);
  const dir = o.authDir;
  if (dir === undefined) throw new Error("connectWhatsApp needs authStore or authDir");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700); // an existing directory may have been created looser
  const auth = await useMultiFileAuthState(dir);
  // Synchronous on purpose: the removal finishes before any reconnect can read the old creds.
  return { ...auth, clear: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens one WhatsApp Web connection with the credentials in `authDir` (or a pairing QR). */
export async function connectWhatsApp(o: ConnectWhatsAppOptions): Promise<WhatsAppSocket> {
  const log = o.log ?? (() => undefined);
  if (o.wsUrl !== undefined && !/^wss?:$/.test(new URL(o.wsUrl).protocol))
    throw new Error("WHATSAPP_WS_URL must be a ws:// or wss:// URL");
  const { state, saveCreds, clear } = await openAuth(o);
  let loggedOut = false;
  // Our recent messages, for baileys to re-encrypt when a recipient's device asks for a retry.
  const sent = new Map<string, proto.IMessage>();

  const sock = (o.makeSocket ?? makeWASocket)({
    auth: state,
    logger: quietLogger(log),
    markOnlineOnConnect: false, // the owner's phone keeps getting notifications
    syncFullHistory: false,
    shouldSyncHistoryMessage: () => false, // history is never a command; do not download it
    generateHighQualityLinkPreview: false,
    getMessage: async (key) => (key.id ? sent.get(key.id) : undefined),
    ...(o.wsUrl ? { waWebSocketUrl: o.wsUrl } : {}),
  });

  sock.ev.on("creds.update", () => {
    if (loggedOut) return; // do not resurrect credentials WhatsApp revoked
    saveCreds().catch((err: unknown) => log("whatsapp.creds_save_failed", { error: (err as Error).name }));
  });
  sock.ev.on("connection.update", (u) => {
    if (u.qr) {
      o.onStatus?.("pairing", "Scan the QR code in WhatsApp: Settings → Linked devices → Link a device.");
      o.onQr(u.qr);
    }
    if (u.connection === "open") o.onStatus?.("open", "WhatsApp connected.");
    if (u.connection !== "close") return;
    if (statusCodeOf(u.lastDisconnect?.error) === DisconnectReason.loggedOut) {
      loggedOut = true;
      clear().catch((err: unknown) => log("whatsapp.creds_clear_failed", { error: (err as Error).name }));
      log("whatsapp.logged_out", {});
      o.onStatus?.("logged_out", "WhatsApp unlinked this device; scan the new QR code to pair again.");
    } else o.onStatus?.("closed", "WhatsApp connection closed; reconnecting.");
  });

  return {
    ev: sock.ev,
    get user() {
      return sock.user;
    },
    async sendMessage(jid, content, options) {
      const m = await sock.sendMessage(jid, content, options);
      if (m?.key.id && m.message) {
        sent.set(m.key.id, m.message);
        if (sent.size > SENT_CACHE) sent.delete(sent.keys().next().value as string);
      }
      return m;
    },
    end: (error) => sock.end(error),
    ...(sock.onWhatsApp ? { onWhatsApp: sock.onWhatsApp.bind(sock) } : {}),
    ...(sock.sendPresenceUpdate
      ? {
          sendPresenceUpdate: (type: "composing" | "paused", jid: string) =>
            sock.sendPresenceUpdate?.(type, jid) ?? Promise.resolve(),
        }
      : {}),
  };
}
