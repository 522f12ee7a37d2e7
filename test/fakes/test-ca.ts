/**
 * A throwaway certificate authority for the fake HTTPS upstreams. The gateway is told to trust it
 * with `--upstream-ca FILE`; the agent side never sees it (it trusts only the Warden CA).
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A server certificate and its private key, both PEM. */
export interface LeafPair {
  readonly cert: string;
  readonly key: string;
}

/** A CA able to issue leaf certificates; `pemPath` is the CA certificate on disk. */
export interface TestCa {
  readonly pem: string;
  readonly pemPath: string;
  issue(names: readonly string[]): Promise<LeafPair>;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** Creates a CA named `cn` and writes its certificate to a fresh temporary file. */
export async function createTestCa(cn = "Warden Test Upstream CA"): Promise<TestCa> {
  const keys = await newKeys();
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 24 * 3600_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${cn}`,
    keys,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pem = caCert.toString("pem");
  const pemPath = join(await mkdtemp(join(tmpdir(), "warden-test-ca-")), "upstream-ca.pem");
  await writeFile(pemPath, pem);

  async function issue(names: readonly string[]): Promise<LeafPair> {
    const leafKeys = await newKeys();
    const altNames = names.map((value) =>
      /^\d+\.\d+\.\d+\.\d+$/.test(value) ? { type: "ip" as const, value } : { type: "dns" as const, value },
    );
    const leaf = await x509.X509CertificateGenerator.create({
      subject: `CN=${names[0] ?? "localhost"}`,
      issuer: caCert.subject,
      publicKey: leafKeys.publicKey,
      signingKey: keys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: ALG,
      extensions: [
        new x509.SubjectAlternativeNameExtension(altNames),
        new x509.BasicConstraintsExtension(false),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    const key = toPem(await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey), "PRIVATE KEY");
    return { cert: leaf.toString("pem"), key };
  }

  return { pem, pemPath, issue };
}
