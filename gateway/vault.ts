/**
 * Encryption at rest for secret values. Untrusted: the bytes read back from the store (they may be
 * tampered with or sealed under another key) and the master-key input from the environment. Values
 * are sealed with AES-256-GCM under a fresh random IV, so any edit to a blob fails authentication
 * instead of yielding altered plaintext; errors never include plaintext, ciphertext or key material.
 * The master key file is created once with mode 0600 and refused if others can read it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { inspect } from "node:util";
import { Secret } from "./secret.js";
import { writeOnce } from "./write-once.js";

const VERSION = 1;
/** Version byte of `sealBytes` blobs (bytes bound to a context), distinct from string secrets. */
const BYTES_VERSION = 2;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

/** Stable reasons a vault operation failed; callers branch on `code`, never on the message. */
export type VaultErrorCode = "VAULT_BAD_KEY" | "VAULT_BAD_BLOB" | "VAULT_KEY_FILE";

/** A vault failure. Messages name what went wrong and where, never a value or a key. */
export class VaultError extends Error {
  override readonly name = "VaultError";
  constructor(
    readonly code: VaultErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Seals and opens secret values with one 256-bit master key (AES-256-GCM). */
export class Vault {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** Builds a vault from a 32-byte key; the buffer is copied, so later edits to it have no effect. */
  static fromKey(key: Buffer): Vault {
    if (key.length !== KEY_BYTES)
      throw new VaultError("VAULT_BAD_KEY", `master key must be ${KEY_BYTES} bytes`);
    return new Vault(Buffer.from(key));
  }

  /** Encrypts `plaintext`; layout is version(1) | iv(12) | tag(16) | ciphertext. */
  seal(plaintext: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.from([VERSION]);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(header); // binds the version byte, so a downgrade edit fails authentication
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
  }

  /** Decrypts a blob from `seal`; throws VaultError("VAULT_BAD_BLOB") on tampering or a wrong key. */
  open(blob: Buffer): Secret {
    if (blob.length < HEADER_BYTES || blob[0] !== VERSION) {
      throw new VaultError("VAULT_BAD_BLOB", "sealed value has an unknown format or version");
    }
    const iv = blob.subarray(1, 1 + IV_BYTES);
    const tag = blob.subarray(1 + IV_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", this.#key, iv);
    decipher.setAAD(blob.subarray(0, 1));
    decipher.setAuthTag(tag);
    const head = decipher.update(blob.subarray(HEADER_BYTES));
    try {
      return new Secret(Buffer.concat([head, decipher.final()]).toString("utf8"));
    } catch {
      // GCM hands out unauthenticated plaintext from update(); wipe it and keep the cause out,
      // so nothing about the value can reach a log through this error.
      head.fill(0);
      throw new VaultError(
        "VAULT_BAD_BLOB",
        "sealed value failed authentication (tampered, or a different key)",
      );
    }
  }

  /**
   * Encrypts bytes bound to `context` (e.g. an approval id), so a blob moved to another context fails
   * authentication. Layout as `seal` with version 2; `context` is authenticated, not stored.
   */
  sealBytes(plaintext: Buffer, context: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.from([BYTES_VERSION]);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.concat([header, Buffer.from(context, "utf8")]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
  }

  /** Decrypts a blob from `sealBytes` with the same `context`; throws VAULT_BAD_BLOB otherwise. */
  openBytes(blob: Buffer, context: string): Buffer {
    if (blob.length < HEADER_BYTES || blob[0] !== BYTES_VERSION) {
      throw new VaultError("VAULT_BAD_BLOB", "sealed bytes have an unknown format or version");
    }
    const decipher = createDecipheriv("aes-256-gcm", this.#key, blob.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.concat([blob.subarray(0, 1), Buffer.from(context, "utf8")]));
    decipher.setAuthTag(blob.subarray(1 + IV_BYTES, HEADER_BYTES));
    const head = decipher.update(blob.subarray(HEADER_BYTES));
    try {
      return Buffer.concat([head, decipher.final()]);
    } catch {
      head.fill(0);
      throw new VaultError(
        "VAULT_BAD_BLOB",
        "sealed bytes failed authentication (tampered, moved, or a different key)",
      );
    }
  }

  /** Prints "[Vault]" so the key never shows up in logs. */
  [inspect.custom](): string {
    return "[Vault]";
  }

  /** Serializes as "[Vault]" for the same reason. */
  toJSON(): string {
    return "[Vault]";
  }
}

/** Where the master key comes from: `envValue` is the caller's `process.env.WARDEN_MASTER_KEY`. */
export interface LoadMasterKeyOptions {
  envValue?: string;
  home: string;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=?$/;

/** Returns the 32-byte master key from `envValue` if set, else from `home/master.key`, creating it once. */
export async function loadMasterKey({ envValue, home }: LoadMasterKeyOptions): Promise<Buffer> {
  if (envValue !== undefined) return parseEnvKey(envValue);
  const path = join(home, "master.key");
  await mkdir(home, { recursive: true, mode: 0o700 });
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!info) {
    const created = await createKeyFile(path);
    if (created) return created;
  } else if (process.platform !== "win32" && (info.mode & 0o077) !== 0) {
    // Like ssh with private keys: a key others can read may already be copied, so refuse to use it.
    throw new VaultError("VAULT_KEY_FILE", `${path} is readable by other users; run: chmod 600 ${path}`);
  }
  const text = (await readFile(path, "utf8")).trim();
  if (!HEX_KEY.test(text)) throw new VaultError("VAULT_KEY_FILE", `${path} must hold 64 hex characters`);
  return Buffer.from(text, "hex");
}

/** Creates `path` with a new key, or returns undefined if another process created it first. */
async function createKeyFile(path: string): Promise<Buffer | undefined> {
  const fresh = randomBytes(KEY_BYTES);
  // Two processes starting at once agree on one key; nobody reads a half-written file.
  return (await writeOnce(path, `${fresh.toString("hex")}\n`, 0o600)) ? fresh : undefined;
}

function parseEnvKey(raw: string): Buffer {
  // Never echo `raw` in these messages: even a malformed value may be most of a real key.
  const value = raw.trim();
  if (HEX_KEY.test(value)) return Buffer.from(value, "hex");
  if (BASE64_KEY.test(value)) {
    const key = Buffer.from(value, "base64");
    // Round-trip check rejects non-canonical spellings whose stray low bits would be silently dropped.
    if (key.length === KEY_BYTES && key.toString("base64").replace(/=$/, "") === value.replace(/=$/, "")) {
      return key;
    }
  }
  throw new VaultError(
    "VAULT_BAD_KEY",
    "WARDEN_MASTER_KEY must be 64 hex characters or base64 of 32 bytes (e.g. `openssl rand -hex 32`)",
  );
}
