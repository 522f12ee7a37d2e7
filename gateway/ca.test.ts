import { X509Certificate } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, unlink } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CertificateAuthority } from "./ca.js";

let dir: string;
beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "warden-ca-")), "ca");
});
afterEach(async () => {
  await rm(join(dir, ".."), { recursive: true, force: true });
});

type Verdict = { authorized: boolean; error?: string; san?: string };

/** Serves TLS on 127.0.0.1:0 and reports what a client trusting only `ca` concludes. */
async function handshake(server: tls.Server, client: { ca: string; servername?: string }): Promise<Verdict> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...client });
      socket.once("secureConnect", () => {
        const san = socket.getPeerCertificate().subjectaltname;
        resolve({ authorized: socket.authorized, error: socket.authorizationError?.toString(), san });
        socket.destroy();
      });
      socket.once("error", reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A TLS server whose SNICallback serves `ca.secureContextFor(certHost ?? servername)`. */
function sniServer(ca: CertificateAuthority, certHost?: string): tls.Server {
  const SNICallback: tls.TlsOptions["SNICallback"] = (name, cb) =>
    void ca.secureContextFor(certHost ?? name).then((ctx) => cb(null, ctx), cb);
  return tls.createServer({ SNICallback }, (s) => s.end());
}

describe("CertificateAuthority.loadOrCreate()", () => {
  it("creates ca.pem and ca-key.pem (0600) in a 0700 directory", async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "ca-key.pem"))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, "ca.pem"), "utf8")).toBe(ca.caPem);
  });

  it("issues a P-256 CA named Warden Gateway CA, valid ~10 years, CA-only key usage", async () => {
    const cert = new X509Certificate((await CertificateAuthority.loadOrCreate(dir)).caPem);
    expect(cert.subject).toBe("CN=Warden Gateway CA");
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    // node:crypto does not expose keyUsage/pathLen; read them with the library that wrote them.
    const x509 = await import("@peculiar/x509");
    const parsed = new x509.X509Certificate(cert.raw);
    const basic = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(basic).toMatchObject({ ca: true, pathLength: 0, critical: true });
    const usage = parsed.getExtension(x509.KeyUsagesExtension);
    expect(usage?.critical).toBe(true);
    expect(usage?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 86_400_000);
    expect(years).toBeCloseTo(10, 1);
  });

  it("reloads the same files across restarts", async () => {
    const first = await CertificateAuthority.loadOrCreate(dir);
    const key = await readFile(join(dir, "ca-key.pem"), "utf8");
    expect((await CertificateAuthority.loadOrCreate(dir)).caPem).toBe(first.caPem);
    expect(await readFile(join(dir, "ca-key.pem"), "utf8")).toBe(key);
  });

  it("two concurrent first starts agree on one CA", async () => {
    const cas = await Promise.all([1, 2, 3].map(() => CertificateAuthority.loadOrCreate(dir)));
    expect(new Set(cas.map((ca) => ca.caPem)).size).toBe(1);
  });

  it("refuses a CA key readable by others", async () => {
    await CertificateAuthority.loadOrCreate(dir);
    await chmod(join(dir, "ca-key.pem"), 0o644);
    await expect(CertificateAuthority.loadOrCreate(dir)).rejects.toThrow(/readable by other users/);
  });

  it("refuses ca.pem without its key instead of minting a new key", async () => {
    await CertificateAuthority.loadOrCreate(dir);
    await unlink(join(dir, "ca-key.pem"));
    await expect(CertificateAuthority.loadOrCreate(dir)).rejects.toThrow(/is missing/);
  });

  it("re-issues ca.pem from the existing key when only the cert was deleted", async () => {
    const first = await CertificateAuthority.loadOrCreate(dir);
    await unlink(join(dir, "ca.pem"));
    const second = await CertificateAuthority.loadOrCreate(dir);
    const key = (pem: string) => new X509Certificate(pem).publicKey;
    expect(key(second.caPem).equals(key(first.caPem))).toBe(true);
  });
});

describe("CertificateAuthority.issueLeaf()", () => {
  it.each([
    // why                                     host                  SAN
    ["DNS name", "api.example.test", "DNS:api.example.test"],
    ["uppercase folds", "API.Example.TEST", "DNS:api.example.test"],
    ["IPv4 literal gets an iPAddress SAN", "127.0.0.1", "IP Address:127.0.0.1"],
    ["bracketed IPv6 literal", "[::1]", "IP Address:0:0:0:0:0:0:0:1"],
  ] as const)("%s: %s → %s, serverAuth, signed by the CA", async (_why, host, san) => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const leaf = new X509Certificate((await ca.issueLeaf(host)).certPem);
    expect(leaf.subjectAltName).toBe(san);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(leaf.checkIssued(new X509Certificate(ca.caPem))).toBe(true);
    expect(leaf.verify(new X509Certificate(ca.caPem).publicKey)).toBe(true);
  });

  it.each([
    // why                                     host
    ["wildcard would cover every subdomain", "*.example.test"],
    ["empty", ""],
    ["zone id", "fe80::1%eth0"],
    ["trailing dot", "api.example.test."],
    ["userinfo smuggling", "user@api.example.test"],
    ["space", "api example.test"],
    ["label over 63 chars", `${"a".repeat(64)}.test`],
  ] as const)("refuses %s: %j", async (_why, host) => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    await expect(ca.issueLeaf(host)).rejects.toThrow(TypeError);
    await expect(ca.secureContextFor(host)).rejects.toThrow(TypeError);
  });

  it("uses a fresh key for each host and each mint", async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const [a, b] = await Promise.all([ca.issueLeaf("a.example.test"), ca.issueLeaf("a.example.test")]);
    expect(a.keyPem).not.toBe(b.keyPem);
  });
});

describe("CertificateAuthority.secureContextFor()", () => {
  it("serves a leaf that verifies against caPem for the requested name", async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const r = await handshake(sniServer(ca), { ca: ca.caPem, servername: "api.example.test" });
    expect(r).toEqual({ authorized: true, error: undefined, san: "DNS:api.example.test" });
  });

  it.each([
    // why                                   client servername      client trusts  error
    ["the leaf names a different host", "evil.example.test", "same CA", "ERR_TLS_CERT_ALTNAME_INVALID"],
    ["the client trusts another CA", "api.example.test", "other CA", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
  ] as const)("fails verification when %s", async (_why, servername, trusts, error) => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const trusted = trusts === "same CA" ? ca : await CertificateAuthority.loadOrCreate(join(dir, "other"));
    const r = await handshake(sniServer(ca, "api.example.test"), { ca: trusted.caPem, servername });
    expect(r).toMatchObject({ authorized: false, error });
  });

  it("serves an IP-literal leaf that verifies for 127.0.0.1", async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const { certPem: cert, keyPem: key } = await ca.issueLeaf("127.0.0.1");
    const server = tls.createServer({ cert, key }, (s) => s.end());
    const r = await handshake(server, { ca: ca.caPem });
    expect(r).toMatchObject({ authorized: true, san: "IP Address:127.0.0.1" });
  });

  it("shares one mint between concurrent callers for the same host", async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir);
    const p1 = ca.secureContextFor("api.example.test");
    const p2 = ca.secureContextFor("API.example.test");
    expect(p2).toBe(p1);
    expect(await p2).toBe(await p1);
    expect(ca.secureContextFor("other.example.test")).not.toBe(p1);
  });

  it("evicts the least recently used host beyond maxContexts", async () => {
    const ca = await CertificateAuthority.loadOrCreate(dir, { maxContexts: 2 });
    const a = ca.secureContextFor("a.test");
    const b = ca.secureContextFor("b.test");
    expect(ca.secureContextFor("a.test")).toBe(a); // touch a, so b is now the oldest
    const c = ca.secureContextFor("c.test"); // evicts b
    expect(ca.secureContextFor("a.test")).toBe(a);
    const b2 = ca.secureContextFor("b.test"); // evicts c
    expect(b2).not.toBe(b);
    expect(ca.secureContextFor("c.test")).not.toBe(c);
    await Promise.all([a, b, c, b2]);
  });

  it("re-mints a cached leaf once it nears expiry", async () => {
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const ca = await CertificateAuthority.loadOrCreate(dir, { now: () => clock });
    const first = ca.secureContextFor("api.example.test");
    clock += 10 * 86_400_000;
    expect(ca.secureContextFor("api.example.test")).toBe(first);
    clock += 20 * 86_400_000;
    expect(ca.secureContextFor("api.example.test")).not.toBe(first);
    await first;
  });
});
