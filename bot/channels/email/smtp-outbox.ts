/**
 * Sending mail (nodemailer over SMTP submission). `smtps://` is TLS from the first byte; `smtp://`
 * upgrades with STARTTLS when the server offers it, and must (requireTLS) for a host that is not
 * loopback, so the password never crosses a network in cleartext. Every mail we send is marked
 * `Auto-Submitted: auto-generated` (RFC 3834), so well-behaved auto-responders do not answer it.
 * Errors are reduced to nodemailer's code and SMTP response code: its messages can quote the server.
 */
import { createTransport, type Transporter } from "nodemailer";
import type { MailServer } from "./email-settings.js";

export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Without angle brackets. */
  readonly messageId: string;
  readonly inReplyTo?: string;
  readonly references?: readonly string[];
  readonly replyTo?: string;
}

export interface SmtpOutbox {
  send(mail: OutgoingMail): Promise<void>;
  /** Connects and logs in (warden doctor). */
  verify(): Promise<void>;
  close(): void;
}

export class SmtpSendError extends Error {
  constructor(readonly code: string) {
    super(`email: sending failed (${code})`);
    this.name = "SmtpSendError";
  }
}

const codeOf = (err: unknown): string => {
  const e = err as { code?: unknown; responseCode?: unknown };
  return [
    typeof e.code === "string" ? e.code : "ESEND",
    typeof e.responseCode === "number" ? e.responseCode : "",
  ]
    .filter((x) => x !== "")
    .join(" ");
};

export function createSmtpOutbox(o: { server: MailServer; password: string; from: string }): SmtpOutbox {
  const s = o.server;
  const transport: Transporter = createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    requireTLS: s.requireStartTls,
    auth: { user: s.user, pass: o.password },
    connectionTimeout: 20_000,
    greetingTimeout: 20_000,
    socketTimeout: 60_000,
    logger: false,
    debug: false,
  });
  return {
    async send(m) {
      try {
        await transport.sendMail({
          from: o.from,
          to: m.to,
          subject: m.subject,
          text: m.text,
          html: m.html,
          messageId: `<${m.messageId}>`,
          ...(m.inReplyTo ? { inReplyTo: `<${m.inReplyTo}>` } : {}),
          ...(m.references && m.references.length > 0
            ? { references: m.references.map((r) => `<${r}>`).join(" ") }
            : {}),
          ...(m.replyTo ? { replyTo: m.replyTo } : {}),
          headers: { "Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All" },
          disableUrlAccess: true,
          disableFileAccess: true,
        });
      } catch (err) {
        throw new SmtpSendError(codeOf(err));
      }
    },
    async verify() {
      try {
        await transport.verify();
      } catch (err) {
        throw new SmtpSendError(codeOf(err));
      }
    },
    close: () => transport.close(),
  };
}
