/**
 * An authenticated SMTP relay (npm `smtp-server`) on 127.0.0.1 for the Email channel's tests: it
 * plays the mail provider's submission server. Only a client that logs in (any user, the shared
 * password) may send; every accepted message is recorded (envelope + raw bytes) and delivered to
 * the private Dovecot over LMTP (nodemailer's LMTP transport), as an MTA would. Like a real relay
 * it does not check that `From:` matches the login: that is exactly how a forged `From:` travels.
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { createTransport } from "nodemailer";
import { SMTPServer } from "smtp-server";

export interface RelayedMail {
  readonly user: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly raw: Buffer;
}

export interface SmtpRelay {
  readonly port: number;
  readonly url: string;
  /** Every message accepted, oldest first. */
  readonly relayed: RelayedMail[];
  /** Logins refused (wrong password): a test can check that nobody guessed. */
  readonly refusedLogins: string[];
  close(): Promise<void>;
}

export async function startSmtpRelay(o: {
  password: string;
  lmtp: { host: string; port: number };
}): Promise<SmtpRelay> {
  const relayed: RelayedMail[] = [];
  const refusedLogins: string[] = [];
  const lmtp = createTransport({ host: o.lmtp.host, port: o.lmtp.port, lmtp: true, ignoreTLS: true });
  const server = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ["STARTTLS"],
    size: 10 * 1024 * 1024,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.password === o.password) return cb(null, { user: auth.username ?? "" });
      refusedLogins.push(auth.username ?? "");
      cb(new Error("Invalid username or password"));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        const env = session.envelope;
        const mailFrom = env.mailFrom === false ? "" : env.mailFrom.address;
        const rcptTo = env.rcptTo.map((r) => r.address);
        const mail = { user: String(session.user ?? ""), mailFrom, rcptTo, raw };
        lmtp
          .sendMail({ envelope: { from: mailFrom, to: rcptTo }, raw })
          .then(() => {
            relayed.push(mail);
            cb();
          })
          .catch((err: Error) => cb(err));
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    relayed,
    refusedLogins,
    async close() {
      lmtp.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A relayed mail as a person's client shows it (parsed with mailparser). */
export interface SeenMail {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly messageId: string;
  readonly inReplyTo?: string;
  readonly references: readonly string[];
  readonly replyTo?: string;
  readonly autoSubmitted?: string;
  readonly text: string;
  readonly html: string;
}

const bare = (s: string) => s.trim().replace(/^<|>$/g, "");

/** Parses what the relay carried (cached per message). */
export function mailReader(relay: SmtpRelay): { all(): Promise<SeenMail[]> } {
  const cache: SeenMail[] = [];
  let pass: Promise<SeenMail[]> = Promise.resolve(cache);
  // One pass at a time: concurrent readers would parse (and list) the same mail twice.
  const read = async (): Promise<SeenMail[]> => {
    for (let i = cache.length; i < relay.relayed.length; i++) {
      const r = relay.relayed[i] as RelayedMail;
      const m = await simpleParser(r.raw);
      const refs =
        m.references === undefined ? [] : Array.isArray(m.references) ? m.references : [m.references];
      const first = (o: typeof m.to) => (Array.isArray(o) ? o[0] : o)?.value[0]?.address ?? "";
      cache.push({
        mailFrom: r.mailFrom,
        rcptTo: r.rcptTo,
        from: m.from?.value[0]?.address ?? "",
        to: first(m.to),
        subject: m.subject ?? "",
        messageId: bare(m.messageId ?? ""),
        ...(m.inReplyTo ? { inReplyTo: bare(m.inReplyTo) } : {}),
        references: refs.map(bare),
        ...(m.replyTo ? { replyTo: m.replyTo.value[0]?.address ?? "" } : {}),
        ...(m.headers.get("auto-submitted")
          ? { autoSubmitted: String(m.headers.get("auto-submitted")) }
          : {}),
        text: (m.text ?? "").replace(/\n+$/, ""),
        html: typeof m.html === "string" ? m.html : "",
      });
    }
    return cache;
  };
  return {
    all() {
      pass = pass.then(read, read);
      return pass;
    },
  };
}

/** A person's mail client: logs in to the relay as `from` and sends what it is told (headers as given). */
export async function sendAs(
  relay: SmtpRelay,
  password: string,
  mail: {
    from: string;
    to: string;
    subject?: string;
    text?: string;
    html?: string;
    inReplyTo?: string;
    references?: readonly string[];
    headers?: Record<string, string>;
    envelopeFrom?: string;
    login?: string;
  },
): Promise<string> {
  const t = createTransport({
    host: "127.0.0.1",
    port: relay.port,
    secure: false,
    ignoreTLS: true,
    auth: { user: mail.login ?? mail.from, pass: password },
  });
  const messageId = `${randomUUID()}@client.test`;
  try {
    await t.sendMail({
      from: mail.from,
      to: mail.to,
      subject: mail.subject ?? "hello",
      ...(mail.text !== undefined ? { text: mail.text } : {}),
      ...(mail.html !== undefined ? { html: mail.html } : {}),
      messageId: `<${messageId}>`,
      ...(mail.inReplyTo ? { inReplyTo: `<${mail.inReplyTo}>` } : {}),
      ...(mail.references?.length ? { references: mail.references.map((r) => `<${r}>`).join(" ") } : {}),
      headers: mail.headers ?? {},
      envelope: { from: mail.envelopeFrom ?? mail.from, to: [mail.to] },
    });
  } finally {
    t.close();
  }
  return messageId;
}
