/**
 * The bot's INBOX over IMAP (imapflow), pushed by IDLE. imapflow only IDLEs while no mailbox lock is
 * held, so every lock is released as soon as its work is done (holding one = no `exists` events).
 * Mail that was already there when the channel started is left alone (not commands: the bot was not
 * listening); every new message (UID above the start mark) is fetched once, handed over as raw bytes,
 * and flagged \Seen. Messages over 1 MB are skipped unread. A dropped connection reconnects with
 * backoff and catches up from the last UID handled. The server's bytes are untrusted: parsing and
 * judging happen in inbound-mail.ts. Logs carry UIDs and error codes, never content or the password.
 */
import { ImapFlow } from "imapflow";
import type { MailServer } from "./email-settings.js";

export interface ImapInboxOptions {
  readonly server: MailServer;
  readonly password: string;
  readonly onMail: (raw: Buffer, uid: number) => Promise<void>;
  readonly log: (event: string, fields: Record<string, unknown>) => void;
  /** Idle time before IDLE starts; default 1 s (new mail is then pushed at once). */
  readonly idleDelayMs?: number;
}

export interface ImapInbox {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_MESSAGE = 1024 * 1024;

export function createImapInbox(o: ImapInboxOptions): ImapInbox {
  let client: ImapFlow | undefined;
  let stopped = true;
  let lastUid = 0;
  let validity: bigint | undefined;
  let chain: Promise<void> = Promise.resolve();
  let retry: NodeJS.Timeout | undefined;
  let backoff = 1000;

  function make(): ImapFlow {
    const s = o.server;
    return new ImapFlow({
      host: s.host,
      port: s.port,
      secure: s.secure,
      ...(s.requireStartTls ? { doSTARTTLS: true } : {}),
      auth: { user: s.user, pass: o.password },
      logger: false,
      autoIdleDelay: o.idleDelayMs ?? 1000,
      connectionTimeout: 20_000,
    });
  }

  async function connect(first: boolean): Promise<void> {
    const c = make();
    c.on("error", (err: Error & { code?: string }) =>
      o.log("email.imap_error", { code: err.code ?? err.name }),
    );
    try {
      await c.connect();
      const lock = await c.getMailboxLock("INBOX");
      try {
        const box = c.mailbox === false ? undefined : c.mailbox;
        const next = Number(box?.uidNext ?? 1);
        if (first || box?.uidValidity !== validity) lastUid = next - 1;
        validity = box?.uidValidity;
      } finally {
        lock.release(); // now imapflow can IDLE
      }
    } catch (err) {
      c.close();
      throw err;
    }
    if (stopped) {
      // stop() ran while we were connecting: this connection is nobody's.
      await c.logout().catch(() => c.close());
      return;
    }
    c.on("exists", () => schedule());
    c.on("close", () => {
      if (stopped || client !== c) return;
      o.log("email.imap_closed", {});
      reconnect();
    });
    client = c;
    backoff = 1000;
    if (!first) schedule(); // catch up on what arrived while disconnected
  }

  function reconnect(): void {
    clearTimeout(retry);
    retry = setTimeout(() => {
      if (stopped) return;
      connect(false).catch((err: Error & { code?: string }) => {
        o.log("email.imap_reconnect_failed", { code: err.code ?? err.name });
        backoff = Math.min(backoff * 2, 60_000);
        reconnect();
      });
    }, backoff);
    retry.unref?.();
  }

  /** Fetches are serialised: one pass at a time, each from the last UID handled. */
  function schedule(): void {
    chain = chain.then(fetchNew).catch((err: Error & { code?: string }) => {
      o.log("email.imap_fetch_failed", { code: err.code ?? err.name });
    });
  }

  async function fetchNew(): Promise<void> {
    const c = client;
    if (!c || stopped || !c.usable) return;
    const found: { uid: number; size: number }[] = [];
    const lock = await c.getMailboxLock("INBOX");
    try {
      for await (const m of c.fetch(`${lastUid + 1}:*`, { uid: true, size: true }, { uid: true }))
        if (m.uid > lastUid) found.push({ uid: m.uid, size: m.size ?? 0 });
      for (const { uid, size } of found.sort((a, b) => a.uid - b.uid)) {
        lastUid = Math.max(lastUid, uid);
        if (size > MAX_MESSAGE) {
          o.log("email.mail_too_large", { uid, size });
          continue;
        }
        const m = await c.fetchOne(String(uid), { source: true }, { uid: true });
        await c.messageFlagsAdd(String(uid), ["\\Seen"], { uid: true });
        if (m && m.source !== undefined) await handOver(m.source, uid);
      }
    } finally {
      lock.release();
    }
  }

  async function handOver(raw: Buffer, uid: number): Promise<void> {
    try {
      await o.onMail(raw, uid);
    } catch (err) {
      o.log("email.inbound_error", { uid, error: (err as Error).name });
    }
  }

  return {
    async start() {
      stopped = false;
      await connect(true);
    },
    async stop() {
      stopped = true;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await chain.catch(() => undefined);
      await c?.logout().catch(() => c.close());
    },
  };
}
