/**
 * A private Dovecot (Debian's `dovecot-imapd` + `dovecot-lmtpd`) for the Email channel's tests: its
 * own config, state and maildirs in a temp directory, IMAP and LMTP on free 127.0.0.1 ports, one
 * static password for every user, `recipient_delimiter = +` (so `warden+<token>@…` lands in
 * `warden@…`'s INBOX with the token still in its headers). Runs as the current user, or as the
 * `dovecot` system user's uid when that is root (Dovecot refuses mail access as uid 0).
 * Without Dovecot installed: `undefined`, or an error when `CI` is set (CI must not skip).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

const DOVECOT = "/usr/sbin/dovecot";
const LMTP = "/usr/lib/dovecot/lmtp";

export interface Dovecot {
  readonly host: "127.0.0.1";
  readonly imapPort: number;
  readonly lmtpPort: number;
  /** Every user's password (static passdb). */
  readonly password: string;
  /** Drops every IMAP connection of `user` (doveadm kick), as a server restart or idle cut would. */
  kick(user: string): Promise<void>;
  close(): Promise<void>;
}

/** Whether this machine has Dovecot; with CI set, its absence is an error. */
export function dovecotAvailable(): boolean {
  const ok = existsSync(DOVECOT) && existsSync(LMTP);
  if (!ok && process.env.CI)
    throw new Error(
      "Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd); CI must not skip",
    );
  return ok;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function uidOf(name: string, passwd: string): { uid: number; gid: number } | undefined {
  const line = passwd.split("\n").find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(":") ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once("data", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.connect(port, "127.0.0.1");
  });
}

export async function startDovecot(password = "dovecot-test-pw"): Promise<Dovecot> {
  const dir = await mkdtemp(join(tmpdir(), "warden-dovecot-"));
  const me = userInfo();
  const root = me.uid === 0;
  const mailUser = root ? uidOf("dovecot", await readFile("/etc/passwd", "utf8")) : undefined;
  const uid = mailUser?.uid ?? me.uid;
  const gid = mailUser?.gid ?? me.gid;
  const mail = join(dir, "mail");
  await mkdir(mail, { recursive: true });
  if (root) {
    await chmod(dir, 0o711); // the mail processes (uid dovecot) must pass through to their maildirs
    await chown(mail, uid, gid);
  }
  const [imapPort, lmtpPort] = [await freePort(), await freePort()];
  // Unprivileged (Dovecot's "running as a normal user" set-up): every process as us, no chroot.
  const login = root ? "" : `default_login_user = ${me.username}\ndefault_internal_user = ${me.username}\n`;
  const chroot = root ? "" : "  chroot =\n";
  const config = `# private test instance
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = warden-test-${imapPort}
log_path = ${dir}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
${login}first_valid_uid = ${uid}
first_valid_gid = ${gid}
mail_location = maildir:${mail}/%u
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
passdb {
  driver = static
  args = password=${password}
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${mail}/%u
}
service imap-login {
${chroot}  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
  unix_listener lmtp {
    mode = 0600
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
`;
  const conf = join(dir, "dovecot.conf");
  await writeFile(conf, config);
  const proc: ChildProcess = spawn(DOVECOT, ["-F", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const end = Date.now() + 20_000;
  while (!((await answers(imapPort)) && (await answers(lmtpPort)))) {
    if (proc.exitCode !== null || Date.now() > end) {
      proc.kill("SIGTERM");
      const log = await readFile(join(dir, "dovecot.log"), "utf8").catch(() => "");
      await rm(dir, { recursive: true, force: true });
      throw new Error(`Dovecot did not start: ${stderr}\n${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: "127.0.0.1",
    imapPort,
    lmtpPort,
    password,
    kick: (user) =>
      new Promise<void>((resolve, reject) => {
        const k = spawn("/usr/bin/doveadm", ["-c", conf, "kick", user], { stdio: "ignore" });
        k.once("error", reject);
        k.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`doveadm kick exited ${code}`))));
      }),
    async close() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
