/**
 * The install CA that signs TLS interception certificates. Untrusted: the host names agents CONNECT
 * to (they become certificate names) and the files in the CA directory (they may have been edited).
 * The CA private key is written once with mode 0600 in a 0700 directory and refused if others can
 * read it; ca.pem must match that key. Leaf names are narrowed to one hostname or IP literal (no
 * wildcards, no zone ids), and the CA has pathLen 0 so a leaked leaf can never sign further certs.
 */
import { createPublicKey, randomBytes, webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import { writeOnce } from "./write-once.js";
// @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const { subtle } = webcrypto;

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const CA_NAME = "CN=Warden Gateway CA";
const CA_VALIDITY = 3653 * DAY; // ~10 years: long enough that agents' trust stores are set once
// Leaf keys live only in memory and are re-minted on restart, so a short life costs nothing and
// bounds the use of a leaked leaf; 30 days is still far from every client's maximum (398 days).
const LEAF_VALIDITY = 30 * DAY;
const BACKDATE = DAY / 24; // agent containers or VMs with a slightly slow clock still accept the leaf
const REFRESH_MARGIN = DAY; // re-mint cached leaves this long before expiry, never serve a dying one
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Tuning for `CertificateAuthority.loadOrCreate`; both have sane defaults. */
export interface CertificateAuthorityOptions {
  /** Most leaf contexts kept (least recently used are dropped). Default 1000. */
  maxContexts?: number;
  /** Clock for leaf validity and cache refresh. Default `Date.now`. */
  now?: () => number;
}

/** Loads or creates the install CA and mints per-host leaf certificates for TLS interception. */
export class CertificateAuthority {
  readonly #cache = new Map<string, { context: Promise<SecureContext>; refreshAt: number }>();

  private constructor(
    /** The CA certificate (PEM), for agents' trust stores. */
    readonly caPem: string,
    private readonly caCert: x509.X509Certificate,
    private readonly caKey: CryptoKey,
    private readonly maxContexts: number,
    private readonly now: () => number,
  ) {}

  /** Reads `dir/ca.pem` and `dir/ca-key.pem`, creating both (P-256, ~10 years) the first time. */
  static async loadOrCreate(dir: string, opts?: CertificateAuthorityOptions): Promise<CertificateAuthority> {
    const { maxContexts = 1000, now = Date.now } = opts ?? {};
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const keyPath = join(dir, "ca-key.pem");
    const certPath = join(dir, "ca.pem");
    const keyPem = await readOrCreate(keyPath, 0o600, async () => {
      // Never pair a new key with an old cert that agents already trust: make the operator choose.
      if (await readOrUndefined(certPath)) throw new Error(`${certPath} exists but ${keyPath} is missing`);
      return pkcs8Pem((await subtle.generateKey(EC, true, ["sign", "verify"])).privateKey);
    });
    if (process.platform !== "win32" && ((await stat(keyPath)).mode & 0o077) !== 0) {
      throw new Error(`${keyPath} is readable by other users; run: chmod 600 ${keyPath}`);
    }
    const caKey = await subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(keyPem), EC, false, ["sign"]);
    const spki = createPublicKey(keyPem).export({ type: "spki", format: "der" });
    const caPem = await readOrCreate(certPath, 0o644, async () => {
      const publicKey = await subtle.importKey("spki", spki, EC, true, ["verify"]);
      const cert = await sign(now(), CA_VALIDITY, {
        subject: CA_NAME,
        issuer: CA_NAME,
        publicKey,
        signingKey: caKey,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(publicKey),
        ],
      });
      return cert.toString("pem");
    });
    const caCert = new x509.X509Certificate(caPem);
    if (!spki.equals(Buffer.from(caCert.publicKey.rawData)) || caCert.notAfter.getTime() <= now()) {
      throw new Error(`${certPath} does not match ${keyPath} or has expired; delete ${certPath} to re-issue`);
    }
    return new CertificateAuthority(caPem, caCert, caKey, maxContexts, now);
  }

  /** TLS context for `host`; concurrent callers share one mint, and results are LRU-cached. */
  secureContextFor(host: string): Promise<SecureContext> {
    const name = host.toLowerCase(); // issueLeaf validates; a refused name is dropped like any failed mint
    const now = this.now();
    const hit = this.#cache.get(name);
    this.#cache.delete(name);
    if (hit && now < hit.refreshAt) {
      this.#cache.set(name, hit);
      return hit.context;
    }
    const context = this.issueLeaf(name).then((l) => createSecureContext({ cert: l.certPem, key: l.keyPem }));
    const entry = { context, refreshAt: now + LEAF_VALIDITY - BACKDATE - REFRESH_MARGIN };
    this.#cache.set(name, entry);
    if (this.#cache.size > this.maxContexts) this.#cache.delete(this.#cache.keys().next().value!);
    // A failed mint must not stay cached, or that host could never be retried.
    context.catch(() => this.#cache.get(name) === entry && this.#cache.delete(name));
    return context;
  }

  /** Mints an uncached leaf (PEM) for `host`: SAN dNSName or iPAddress, serverAuth, fresh P-256 key. */
  async issueLeaf(host: string): Promise<{ certPem: string; keyPem: string }> {
    const name = leafName(host);
    const keys = await subtle.generateKey(EC, true, ["sign", "verify"]);
    // CN is capped at 64 chars; clients match on the SAN anyway, which must be critical if CN is absent.
    const short = name.length <= 64;
    const cert = await sign(this.now(), LEAF_VALIDITY, {
      subject: short ? [{ CN: [name] }] : [],
      issuer: this.caCert.subjectName,
      publicKey: keys.publicKey,
      signingKey: this.caKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: isIP(name) ? "ip" : "dns", value: name }], !short),
        await x509.AuthorityKeyIdentifierExtension.create(this.caCert.publicKey),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const keyPem = await pkcs8Pem(keys.privateKey);
    return { certPem: cert.toString("pem"), keyPem };
  }
}

type SignParams = Omit<x509.X509CertificateCreateWithKeyParams, "serialNumber" | "notBefore" | "notAfter">;

function sign(now: number, validity: number, params: SignParams): Promise<x509.X509Certificate> {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and without a leading zero byte, as DER wants
  return x509.X509CertificateGenerator.create({
    ...params,
    serialNumber: serial.toString("hex"),
    notBefore: new Date(now - BACKDATE),
    notAfter: new Date(now - BACKDATE + validity),
    signingAlgorithm: SIGNING,
  });
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Lowercased hostname or IP literal (brackets stripped); anything else is refused. */
function leafName(host: string): string {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if ((isIP(name) !== 0 && !name.includes("%")) || HOSTNAME.test(name)) return name;
  throw new TypeError(`cannot issue a certificate for host ${JSON.stringify(host.slice(0, 100))}`);
}

function readOrUndefined(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
}

async function readOrCreate(path: string, mode: number, make: () => Promise<string>): Promise<string> {
  const existing = await readOrUndefined(path);
  if (existing !== undefined) return existing;
  const text = await make();
  // If a concurrent start won the race we keep its file and read it back.
  return (await writeOnce(path, text, mode)) ? text : readFile(path, "utf8");
}
