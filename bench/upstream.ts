/**
 * The upstream the benchmark talks to: a plain HTTP and an HTTPS server answering every request
 * with a small fixed body. It runs in its own child process (`node upstream.js serve DIR`) so it
 * does not share an event loop with the load generator. Its certificate comes from a throwaway CA
 * made here with the openssl CLI; the leaf covers DNS:bench.test and IP:127.0.0.1. The same helper
 * makes a second CA for peers that need one handed to them (squid's ssl-bump).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The HTTPS upstream's name; every proxy is told (or made) to send it to 127.0.0.1. */
export const TLS_HOST = "bench.test";
/** The plain HTTP upstream's name (a second name, because `--resolve` maps a name to one port). */
export const PLAIN_HOST = "http.bench.test";

const BODY = Buffer.from(`${JSON.stringify({ ok: true, from: "bench-upstream", pad: "x".repeat(64) })}\n`);

export interface CaFiles {
  readonly cert: string;
  readonly key: string;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A self-signed EC P-256 CA in `dir/NAME.pem` + `dir/NAME.key`. */
export function makeCa(dir: string, name: string, subject: string): CaFiles {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  // biome-ignore format: one openssl flag per pair reads best.
  openssl([
    "req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-sha256", "-subj", `/CN=${subject}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return { cert, key };
}

/** A leaf for bench.test / 127.0.0.1 signed by `ca`. */
export function makeLeaf(dir: string, ca: CaFiles): CaFiles {
  const cert = join(dir, "upstream.pem");
  const key = join(dir, "upstream.key");
  const csr = join(dir, "upstream.csr");
  const ext = join(dir, "upstream.ext");
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
  openssl(["req", "-new", "-key", key, "-out", csr, "-subj", `/CN=${TLS_HOST}`]);
  writeFileSync(
    ext,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=DNS:${TLS_HOST},DNS:${PLAIN_HOST},IP:127.0.0.1`,
      "",
    ].join("\n"),
  );
  // biome-ignore format: one openssl flag per pair reads best.
  openssl([
    "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert,
    "-days", "2", "-sha256", "-extfile", ext,
  ]);
  return { cert, key };
}

export interface Upstream {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** PEM of the CA that signed the upstream's certificate (what clients and proxies must trust). */
  readonly caPem: string;
  readonly caFile: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Makes the upstream CA and leaf in `dir`, then starts the servers in a child process. */
export async function startUpstream(dir: string): Promise<Upstream> {
  const ca = makeCa(dir, "upstream-ca", "Warden bench upstream CA");
  makeLeaf(dir, ca);
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), "serve", dir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("upstream did not start within 10 s")), 10_000);
    createInterface({ input: child.stdout! }).once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`upstream exited with code ${code} before listening`));
    });
  });
  const ports = JSON.parse(line) as { http: number; https: number };
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    httpPort: ports.http,
    httpsPort: ports.https,
    caPem: readFileSync(ca.cert, "utf8"),
    caFile: ca.cert,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
    res.end(BODY);
  });
}

async function serve(dir: string): Promise<void> {
  const options = { keepAliveTimeout: 120_000, requestTimeout: 0, headersTimeout: 60_000 };
  const plain = http.createServer(options, answer);
  const tls = https.createServer(
    {
      ...options,
      cert: readFileSync(join(dir, "upstream.pem")),
      key: readFileSync(join(dir, "upstream.key")),
    },
    answer,
  );
  const listen = (server: http.Server) =>
    new Promise<number>((resolve) => {
      server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
    });
  const [httpPort, httpsPort] = [await listen(plain), await listen(tls)];
  process.stdout.write(`${JSON.stringify({ http: httpPort, https: httpsPort })}\n`);
  const stop = () => {
    plain.closeAllConnections();
    tls.closeAllConnections();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Never outlive the benchmark, even if it dies without signalling us.
  process.stdin.on("end", stop).resume();
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "serve" && process.argv[3]) {
  void serve(process.argv[3]);
}
