/**
 * Credentials for a throwaway test cluster, made with the openssl CLI in the cluster's scratch dir:
 * a CA, the apiserver's serving cert (127.0.0.1 and localhost), the service-account signing key pair,
 * a static token file and kubeconfigs. Test-only: every key and token is random, lives in the scratch
 * dir and dies with it. Nothing here is untrusted input.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The identities in the static token file. */
export interface KubeTokens {
  /** `admin`, group system:masters. */
  readonly admin: string;
  /** `system:node:localhost`, group system:nodes (the kubelet; the Node authorizer scopes it). */
  readonly node: string;
  /** `warden-gateway`: only bound to system:auth-delegator (TokenReview), like the real gateway. */
  readonly gateway: string;
}

export interface KubePki {
  readonly caCert: string;
  readonly caPem: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  readonly tokenFile: string;
  readonly tokens: KubeTokens;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

// P-256 keys: an order of magnitude faster to make than RSA, and Go 1.19 serves and verifies them.
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makePki(dir: string): KubePki {
  openssl(
    dir,
    ["req", "-x509", ...EC, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2"].concat([
      "-subj",
      "/CN=warden-test-ca",
    ]),
  );
  openssl(dir, [
    "req",
    "-new",
    ...EC,
    "-keyout",
    "apiserver.key",
    "-out",
    "apiserver.csr",
    "-subj",
    "/CN=kube-apiserver",
  ]);
  const san =
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1";
  writeFileSync(
    join(dir, "apiserver.ext"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  );
  openssl(
    dir,
    ["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"].concat([
      "-days",
      "2",
      "-extfile",
      "apiserver.ext",
      "-out",
      "apiserver.crt",
    ]),
  );
  openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sa.key"]);
  openssl(dir, ["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  const tokens: KubeTokens = {
    admin: randomBytes(24).toString("hex"),
    node: randomBytes(24).toString("hex"),
    gateway: randomBytes(24).toString("hex"),
  };
  // token,user,uid,"group1,group2"
  writeFileSync(
    join(dir, "tokens.csv"),
    [
      `${tokens.admin},admin,uid-admin,"system:masters"`,
      `${tokens.node},system:node:localhost,uid-node,"system:nodes"`,
      `${tokens.gateway},warden-gateway,uid-warden-gateway`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const caCert = join(dir, "ca.crt");
  return {
    caCert,
    caPem: readFileSync(caCert, "utf8"),
    serverCert: join(dir, "apiserver.crt"),
    serverKey: join(dir, "apiserver.key"),
    saKey: join(dir, "sa.key"),
    saPub: join(dir, "sa.pub"),
    tokenFile: join(dir, "tokens.csv"),
    tokens,
  };
}

/** Writes a kubeconfig for one bearer token; returns its path. */
export function writeKubeconfig(
  path: string,
  server: string,
  caPem: string,
  user: string,
  token: string,
): string {
  const ca = Buffer.from(caPem).toString("base64");
  const text = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: warden-test\n  cluster:\n    server: ${server}\n    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${user}\n  user:\n    token: ${token}`,
    "contexts:",
    `- name: ${user}\n  context:\n    cluster: warden-test\n    user: ${user}`,
    `current-context: ${user}`,
    "",
  ].join("\n");
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}
