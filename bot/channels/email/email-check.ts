/**
 * `warden doctor` for Email: the settings parse, an IMAP login (INBOX opened, then logout) and an
 * SMTP connect + login (nodemailer verify). Results are codes and our own words only: server
 * answers and library messages are never printed (they can quote what was sent), and the password
 * never is.
 */
import { ImapFlow } from "imapflow";
import {
  botAddress,
  type EmailSettings,
  EmailSettingsError,
  mailServer,
  passwordOf,
} from "./email-settings.js";
import { createSmtpOutbox } from "./smtp-outbox.js";

export type EmailCheck =
  | { readonly what: "settings" | "imap" | "smtp"; readonly ok: true; readonly detail: string }
  | { readonly what: "settings" | "imap" | "smtp"; readonly ok: false; readonly detail: string };

const codeOf = (err: unknown): string => {
  const e = err as { code?: unknown; authenticationFailed?: unknown; name?: unknown };
  if (e.authenticationFailed) return "login refused";
  if (typeof e.code === "string" && /^[A-Z0-9_ ]{2,40}$/.test(e.code)) return e.code;
  return typeof e.name === "string" ? e.name : "Error";
};

export async function checkEmail(s: EmailSettings, timeoutMs = 10_000): Promise<EmailCheck[]> {
  let password: string;
  let parsed: { me: string; imap: ReturnType<typeof mailServer>; smtp: ReturnType<typeof mailServer> };
  try {
    const me = botAddress(s.address).address;
    parsed = { me, imap: mailServer(s.imapUrl, "imap", me), smtp: mailServer(s.smtpUrl, "smtp", me) };
    password = await passwordOf(s);
  } catch (err) {
    const detail = err instanceof EmailSettingsError ? err.message : "settings could not be read";
    return [{ what: "settings", ok: false, detail }];
  }
  const out: EmailCheck[] = [];
  const { imap, smtp } = parsed;
  const client = new ImapFlow({
    host: imap.host,
    port: imap.port,
    secure: imap.secure,
    ...(imap.requireStartTls ? { doSTARTTLS: true } : {}),
    auth: { user: imap.user, pass: password },
    logger: false,
    connectionTimeout: timeoutMs,
    disableAutoIdle: true,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const lock = await client.getMailboxLock("INBOX");
    lock.release();
    out.push({
      what: "imap",
      ok: true,
      detail: `logged in to ${imap.host}:${imap.port} as ${imap.user}, INBOX opened`,
    });
  } catch (err) {
    out.push({ what: "imap", ok: false, detail: `${imap.host}:${imap.port}: ${codeOf(err)}` });
  } finally {
    await client.logout().catch(() => client.close());
  }
  const outbox = createSmtpOutbox({ server: smtp, password, from: parsed.me });
  try {
    await outbox.verify();
    out.push({ what: "smtp", ok: true, detail: `logged in to ${smtp.host}:${smtp.port} as ${smtp.user}` });
  } catch (err) {
    out.push({ what: "smtp", ok: false, detail: `${smtp.host}:${smtp.port}: ${codeOf(err)}` });
  } finally {
    outbox.close();
  }
  return out;
}
