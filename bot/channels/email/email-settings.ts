/**
 * Email settings: `EMAIL_IMAP_URL` (`imap://user@host:port`, `imaps://` for TLS), `EMAIL_SMTP_URL`
 * (`smtp://user@host:port`, STARTTLS when offered, `smtps://`), `EMAIL_ADDRESS`, and the password
 * (`EMAIL_PASSWORD`, env or a Warden secret). Parsed with zod; a password written into a URL is
 * refused (it would end up in logs and `warden doctor` output), and so is cleartext to a host that is
 * not loopback: `imap://` / `smtp://` elsewhere must upgrade with STARTTLS or fail.
 * Errors name the setting, never its value.
 */
import { z } from "zod";

export interface EmailSettings {
  readonly imapUrl: string;
  readonly smtpUrl: string;
  /** The bot's own address; replies come to `<local>+<token>@<domain>`. */
  readonly address: string;
  /** Read when the channel starts (a Warden secret may be set after `warden start` begins). */
  readonly password: string | (() => string | undefined | Promise<string | undefined>);
}

/** One server: where, how (TLS from the first byte, STARTTLS required, or upgrade if offered), as whom. */
export interface MailServer {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (`imaps://`, `smtps://`). */
  readonly secure: boolean;
  /** STARTTLS must succeed: true for a cleartext URL to a host that is not loopback. */
  readonly requireStartTls: boolean;
  readonly user: string;
}

export class EmailSettingsError extends Error {
  constructor(
    readonly code: "bad_url" | "password_in_url" | "bad_address" | "no_password",
    message: string,
  ) {
    super(message);
    this.name = "EmailSettingsError";
  }
}

const Address = z.email().max(254);

/** The bot's address, lower-cased; `local` and `domain` split for plus-addressing. */
export function botAddress(address: string): { address: string; local: string; domain: string } {
  const parsed = Address.safeParse(address.trim());
  if (!parsed.success) throw new EmailSettingsError("bad_address", "EMAIL_ADDRESS is not an email address");
  const a = parsed.data.toLowerCase();
  const at = a.lastIndexOf("@");
  const local = a.slice(0, at);
  if (local.includes("+")) throw new EmailSettingsError("bad_address", "EMAIL_ADDRESS must not contain '+'");
  return { address: a, local, domain: a.slice(at + 1) };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;

/** `imap://user@host:port` → a server; `kind` names the setting in errors. */
export function mailServer(url: string, kind: "imap" | "smtp", fallbackUser: string): MailServer {
  const name = kind === "imap" ? "EMAIL_IMAP_URL" : "EMAIL_SMTP_URL";
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new EmailSettingsError("bad_url", `${name} is not a URL`);
  }
  if (u.password !== "")
    throw new EmailSettingsError("password_in_url", `${name} must not carry a password: set EMAIL_PASSWORD`);
  const secureScheme = `${kind}s:`;
  if (u.protocol !== `${kind}:` && u.protocol !== secureScheme)
    throw new EmailSettingsError("bad_url", `${name} must start with ${kind}:// or ${kind}s://`);
  if (u.hostname === "") throw new EmailSettingsError("bad_url", `${name} has no host`);
  const secure = u.protocol === secureScheme;
  const defaultPort = kind === "imap" ? (secure ? 993 : 143) : secure ? 465 : 587;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return {
    host,
    port: u.port === "" ? defaultPort : Number(u.port),
    secure,
    requireStartTls: !secure && !LOOPBACK.test(u.hostname),
    user: u.username === "" ? fallbackUser : decodeURIComponent(u.username),
  };
}

/** The password now: env value or the secret's; empty or missing is an error naming the setting. */
export async function passwordOf(s: EmailSettings): Promise<string> {
  const p = typeof s.password === "function" ? await s.password() : s.password;
  if (!p)
    throw new EmailSettingsError("no_password", "EMAIL_PASSWORD is not set (env or `warden secret set`)");
  return p;
}
