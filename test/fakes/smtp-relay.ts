/**
 * An authenticated SMTP relay (npm `smtp-server`) on 127.0.0.1 for the Email channel's tests: it
 * plays the mail provider's submission server. Only a client that logs in (any user, the shared
 * password) may send; every accepted message is recorded (envelope + raw bytes) and delivered to
 * the private Dovecot over LMTP (nodemailer's LMTP transport), as an MTA would. Like a real relay
 * it does not check that `From:` matches the login: that is exactly how a forged `From:` travels.
 */
import type { AddressInfo } from "node:net";
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
