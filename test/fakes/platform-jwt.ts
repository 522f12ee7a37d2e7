/**
 * The key side of the JWT platforms, on 127.0.0.1: a Bot Framework-like OpenID metadata document and
 * JWKS (Teams) and Google's X.509 certificate list for chat@system.gserviceaccount.com (Google Chat),
 * with RS256 signing the way each platform signs its webhook tokens. Tests sign with these keys and
 * point Warden at `openIdMetadataUrl` / `certsUrl`; `sign` with `foreign` uses a key nobody publishes.
 */
import "reflect-metadata";
import { createSign, generateKeyPairSync, type KeyObject, webcrypto } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

export interface PlatformKeys {
  readonly url: string;
  /** Teams: `TEAMS_OPENID_METADATA_URL`. */
  readonly openIdMetadataUrl: string;
  /** Google Chat: `GOOGLE_CHAT_CERTS_URL`. */
  readonly certsUrl: string;
  /** An RS256 JWT with `claims`, signed by the published key (or by an unpublished one). */
  sign(claims: Record<string, unknown>, o?: { foreign?: boolean; kid?: string; alg?: string }): string;
  close(): Promise<void>;
}

const KID = "test-key-1";

function rsa(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("rsa", { modulusLength: 2048 });
}

async function selfSignedPem(pair: { privateKey: KeyObject; publicKey: KeyObject }): Promise<string> {
  const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const keys = {
    privateKey: await webcrypto.subtle.importKey(
      "pkcs8",
      pair.privateKey.export({ format: "der", type: "pkcs8" }),
      alg,
      true,
      ["sign"],
    ),
    publicKey: await webcrypto.subtle.importKey(
      "spki",
      pair.publicKey.export({ format: "der", type: "spki" }),
      alg,
      true,
      ["verify"],
    ),
  };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=chat@system.gserviceaccount.com",
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys: keys as CryptoKeyPair,
  });
  return cert.toString("pem");
}

export async function startPlatformKeys(): Promise<PlatformKeys> {
  const published = rsa();
  const foreign = rsa();
  const pem = await selfSignedPem(published);
  const jwk = { ...published.publicKey.export({ format: "jwk" }), kid: KID, use: "sig", alg: "RS256" };
  let base = "";
  const server: Server = createServer((req, res) => {
    const json = (v: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    if (req.url === "/v1/.well-known/openidconfiguration")
      return json({ issuer: "https://api.botframework.com", jwks_uri: `${base}/v1/.well-known/keys` });
    if (req.url === "/v1/.well-known/keys") return json({ keys: [jwk] });
    if (req.url === "/gchat/certs") return json({ [KID]: pem });
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    openIdMetadataUrl: `${base}/v1/.well-known/openidconfiguration`,
    certsUrl: `${base}/gchat/certs`,
    sign(claims, o = {}) {
      const head = b64url(JSON.stringify({ alg: o.alg ?? "RS256", typ: "JWT", kid: o.kid ?? KID }));
      const body = b64url(JSON.stringify(claims));
      const sig = createSign("RSA-SHA256")
        .update(`${head}.${body}`)
        .sign(o.foreign ? foreign.privateKey : published.privateKey);
      return `${head}.${body}.${b64url(sig)}`;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
