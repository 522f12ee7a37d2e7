/**
 * The proxies under test, each started on 127.0.0.1 with a free port and its logs in a temp dir:
 * Warden's gateway (the built CLI), mitmproxy (mitmdump) and squid with ssl-bump. A peer that
 * cannot start throws with the reason (and its log's tail); the caller reports it and goes on.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { ProxyTarget } from "./load.js";
import { cleanEnv, freePort, runsAsRoot, stopper, tail, waitForPort } from "./proc.js";
import { makeCa, PLAIN_HOST, TLS_HOST } from "./upstream.js";

export interface Peer {
  readonly name: string;
  readonly proxy: ProxyTarget;
  /** The host clients CONNECT to / put in absolute-form URLs (a name the peer maps to 127.0.0.1). */
  readonly tlsHost: string;
  readonly plainHost: string;
  readonly pid: number;
  /** Where its logs went. */
  readonly logs: string;
  stop(): Promise<void>;
}

export interface PeerContext {
  /** A fresh temp directory for this peer's files. */
  readonly dir: string;
  readonly upstreamCaFile: string;
  readonly httpPort: number;
  readonly httpsPort: number;
}

function controlRequest(
  port: number,
  token: string,
  method: string,
  path: string,
  body: unknown,
): Promise<unknown> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const headers = {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      "content-length": payload.length,
    };
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200 && res.statusCode !== 201)
          return reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        resolve(JSON.parse(text));
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** Warden's gateway; `profileDir` adds `--cpu-prof` (the profile is written when it exits). */
export async function startWarden(
  ctx: PeerContext,
  repoRoot: string,
  profileDir?: string,
  name = "warden",
): Promise<Peer> {
  const home = join(ctx.dir, "home");
  const policies = join(ctx.dir, "policies");
  mkdirSync(home, { recursive: true });
  mkdirSync(policies, { recursive: true });
  writeFileSync(
    join(policies, "bench.yaml"),
    `hosts: [${TLS_HOST}, ${PLAIN_HOST}]\nrules:\n  - name: all\n    action: allow\n`,
  );
  const log = join(ctx.dir, "gateway.log");
  // biome-ignore format: flag/value pairs.
  const args = [
    ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : []),
    join(repoRoot, "bin", "warden.js"), "gateway", "--home", home, "--policies", policies,
    "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0", "--upstream-ca", ctx.upstreamCaFile,
    "--resolve", `${TLS_HOST}=127.0.0.1:${ctx.httpsPort}`, "--resolve", `${PLAIN_HOST}=127.0.0.1:${ctx.httpPort}`,
  ];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...cleanEnv(), WARDEN_HOME: home },
    stdio: ["ignore", "pipe", openSync(log, "a")],
  });
  const stop = stopper(child);
  try {
    const lines = createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no listening line within 30 s")), 30_000);
      lines.once("line", (line) => {
        clearTimeout(timer);
        resolve(line);
      });
      child.once("exit", (code) => reject(new Error(`exited (${code}) before listening:\n${tail(log)}`)));
    });
    lines.on("line", () => undefined); // keep draining stdout
    const event = JSON.parse(first) as { proxy: string; control: string };
    const port = (hp: string) => Number(hp.slice(hp.lastIndexOf(":") + 1));
    const token = readFileSync(join(home, "control.token"), "utf8").trim();
    const agent = (await controlRequest(port(event.control), token, "POST", "/v1/agents", {
      name: "bench",
    })) as {
      token: string;
    };
    const ca = readFileSync(join(home, "ca", "ca.pem"), "utf8");
    const proxy = { host: "127.0.0.1", port: port(event.proxy), auth: `bench:${agent.token}`, ca };
    return {
      name,
      proxy,
      tlsHost: TLS_HOST,
      plainHost: PLAIN_HOST,
      pid: child.pid!,
      logs: log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** mitmdump in regular (forward proxy) mode, verifying the upstream against the bench CA. */
export async function startMitmproxy(ctx: PeerContext): Promise<Peer> {
  const confdir = join(ctx.dir, "mitmproxy");
  mkdirSync(confdir, { recursive: true });
  const port = await freePort();
  const log = join(ctx.dir, "mitmdump.log");
  const out = openSync(log, "a");
  // biome-ignore format: flag/value pairs.
  const args = [
    "--mode", "regular", "--listen-host", "127.0.0.1", "-p", String(port), "-q",
    "--set", `confdir=${confdir}`, "--set", "ssl_insecure=false",
    "--set", `ssl_verify_upstream_trusted_ca=${ctx.upstreamCaFile}`,
  ];
  const child = spawn(MITMDUMP, args, { env: cleanEnv(), stdio: ["ignore", out, out] });
  const stop = stopper(child, "SIGINT");
  child.on("error", () => undefined);
  try {
    await waitForPort(port, child, [log]);
    const ca = readFileSync(join(confdir, "mitmproxy-ca-cert.pem"), "utf8");
    // mitmproxy has no hosts map: clients name the upstream by IP (its certificate covers 127.0.0.1).
    return {
      name: "mitmproxy",
      proxy: { host: "127.0.0.1", port, ca },
      tlsHost: "127.0.0.1",
      plainHost: "127.0.0.1",
      pid: child.pid!,
      logs: log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export const MITMDUMP = "/usr/bin/mitmdump";
export const SQUID = "/usr/sbin/squid";
export const CERTGEN = "/usr/lib/squid/security_file_certgen";

/** True when squid is installed and built with OpenSSL (needed for ssl-bump): Debian's squid-openssl. */
export function squidHasSslBump(): boolean {
  if (!existsSync(SQUID) || !existsSync(CERTGEN)) return false;
  const version = spawnSync(SQUID, ["-v"], { encoding: "utf8" });
  return /--with-openssl/.test(version.stdout ?? "");
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}

/** squid with ssl-bump (client-first bump of every CONNECT), no cache, its own hosts file. */
export async function startSquid(ctx: PeerContext): Promise<Peer> {
  const ca = makeCa(ctx.dir, "squid-ca", "Warden bench squid CA");
  const db = join(ctx.dir, "ssl_db");
  const init = spawnSync(CERTGEN, ["-c", "-s", db, "-M", "4MB"], { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`security_file_certgen -c failed: ${init.stderr}`);
  writeFileSync(join(ctx.dir, "hosts"), `127.0.0.1 ${TLS_HOST} ${PLAIN_HOST}\n`);
  const port = await freePort();
  const d = ctx.dir;
  const conf = [
    `http_port 127.0.0.1:${port} ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert=${ca.cert} tls-key=${ca.key}`,
    `sslcrtd_program ${CERTGEN} -s ${db} -M 4MB`,
    "sslcrtd_children 4 startup=1 idle=1",
    "ssl_bump bump all",
    `tls_outgoing_options cafile=${ctx.upstreamCaFile}`,
    "http_access allow all",
    "cache deny all",
    `hosts_file ${d}/hosts`,
    "dns_nameservers 127.0.0.1", // anything not in the hosts file stays on loopback
    "pinger_enable off",
    "visible_hostname warden-bench",
    `access_log stdio:${d}/access.log`,
    `cache_log ${d}/cache.log`,
    `pid_filename ${d}/squid.pid`,
    `coredump_dir ${d}`,
    `netdb_filename stdio:${d}/netdb.state`,
    "shutdown_lifetime 1 seconds",
    "max_filedescriptors 4096",
    ...(runsAsRoot() ? ["cache_effective_user proxy", "cache_effective_group proxy"] : []),
    "",
  ].join("\n");
  writeFileSync(join(d, "squid.conf"), conf);
  if (runsAsRoot()) {
    // squid drops to the `proxy` user: it must be able to reach its dir through the 0700 temp root.
    chmodSync(dirname(d), 0o711);
    const id = (flag: string) => Number(spawnSync("id", [flag, "proxy"], { encoding: "utf8" }).stdout.trim());
    chownTree(d, id("-u"), id("-g"));
  }
  const log = join(d, "cache.log");
  const out = openSync(join(d, "squid.out"), "a");
  const child = spawn(SQUID, ["-N", "-f", join(d, "squid.conf")], {
    env: cleanEnv(),
    stdio: ["ignore", out, out],
  });
  const stop = stopper(child, "SIGINT");
  child.on("error", () => undefined);
  try {
    await waitForPort(port, child, [log, join(d, "squid.out")]);
    const proxy = { host: "127.0.0.1", port, ca: readFileSync(ca.cert, "utf8") };
    return {
      name: "squid",
      proxy,
      tlsHost: TLS_HOST,
      plainHost: PLAIN_HOST,
      pid: child.pid!,
      logs: log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
