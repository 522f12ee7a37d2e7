import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMasterKey, Vault, VaultError } from "./vault.js";

const PLAINTEXT = "ghp_supersecretvalue_0123456789";

function caught(fn: () => unknown): VaultError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VaultError);
    return err as VaultError;
  }
  throw new Error("expected a VaultError");
}

/** Everything a log line could show about an error. */
function rendered(err: Error): string {
  return `${err.message}\n${err.stack}\n${inspect(err, { depth: 5 })}\n${String(err.cause)}`;
}

describe("Vault", () => {
  const key = randomBytes(32);
  const vault = Vault.fromKey(key);

  it("seal() then open() round-trips, including non-ASCII and empty values", async () => {
    for (const value of [PLAINTEXT, "pässwörd 🔑", ""]) {
      expect(vault.open(vault.seal(value)).reveal()).toBe(value);
    }
  });

  it("seal() uses version|iv|tag|ciphertext and a fresh IV each time", async () => {
    const a = vault.seal(PLAINTEXT);
    const b = vault.seal(PLAINTEXT);
    expect(a[0]).toBe(1);
    expect(a.length).toBe(1 + 12 + 16 + Buffer.byteLength(PLAINTEXT));
    expect(a.subarray(1, 13).equals(b.subarray(1, 13))).toBe(false);
    expect(a.includes(Buffer.from(PLAINTEXT))).toBe(false);
  });

  it.each([
    // why                               byte offset to flip
    ["tampered version byte", 0],
    ["tampered IV", 5],
    ["tampered auth tag", 20],
    ["tampered first ciphertext byte", 29],
    ["tampered last ciphertext byte", -1],
  ] as const)("open() detects %s without leaking plaintext", (_why, offset) => {
    const blob = Buffer.from(vault.seal(PLAINTEXT));
    const i = offset < 0 ? blob.length + offset : offset;
    blob[i] = blob[i]! ^ 0x01;
    const err = caught(() => vault.open(blob));
    expect(err.code).toBe("VAULT_BAD_BLOB");
    expect(rendered(err)).not.toContain(PLAINTEXT);
  });

  it("open() rejects a truncated blob", async () => {
    expect(caught(() => vault.open(vault.seal(PLAINTEXT).subarray(0, 20))).code).toBe("VAULT_BAD_BLOB");
  });

  it("open() under a different key fails with a clear error and no plaintext", async () => {
    const err = caught(() => Vault.fromKey(randomBytes(32)).open(vault.seal(PLAINTEXT)));
    expect(err.message).toMatch(/failed authentication/);
    expect(rendered(err)).not.toContain(PLAINTEXT);
  });

  it("fromKey() rejects keys that are not 32 bytes", async () => {
    expect(caught(() => Vault.fromKey(randomBytes(16))).code).toBe("VAULT_BAD_KEY");
  });

  it("fromKey() copies the key, and the vault never prints it", async () => {
    const k = randomBytes(32);
    const v = Vault.fromKey(k);
    const blob = v.seal(PLAINTEXT);
    const hex = k.toString("hex");
    k.fill(0);
    expect(v.open(blob).reveal()).toBe(PLAINTEXT);
    expect(inspect(v, { showHidden: true })).not.toContain(hex);
    expect(JSON.stringify({ v })).toBe('{"v":"[Vault]"}');
  });
});

describe("loadMasterKey()", () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), "warden-vault-"));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("creates home/master.key with mode 0600 and reuses it on the next call", async () => {
    const first = await loadMasterKey({ home });
    const path = join(home, "master.key");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, "utf8")).trim()).toBe(first.toString("hex"));
    const second = await loadMasterKey({ home });
    expect(second.equals(first)).toBe(true);
  });

  it("two concurrent first starts agree on one key", async () => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadMasterKey({ home })));
    for (const k of keys) expect(k.equals(keys[0]!)).toBe(true);
  });

  it("creates a missing home directory", async () => {
    const nested = join(home, "a", "b");
    expect((await loadMasterKey({ home: nested })).length).toBe(32);
  });

  it("refuses a key file readable by others", async () => {
    await loadMasterKey({ home });
    await chmod(join(home, "master.key"), 0o644);
    await expect(loadMasterKey({ home })).rejects.toMatchObject({ code: "VAULT_KEY_FILE" });
  });

  it("refuses a malformed key file without echoing it", async () => {
    await writeFile(join(home, "master.key"), "not-a-key-hunter2\n", { mode: 0o600 });
    const err = await loadMasterKey({ home }).catch((e: unknown) => e as VaultError);
    expect(err).toMatchObject({ code: "VAULT_KEY_FILE" });
    expect(rendered(err as Error)).not.toContain("hunter2");
  });

  it("prefers envValue and never touches the key file", async () => {
    const hex = randomBytes(32).toString("hex");
    expect((await loadMasterKey({ envValue: hex, home })).toString("hex")).toBe(hex);
    await expect(stat(join(home, "master.key"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it.each([
    // why                                 how the key is written
    ["lowercase hex", (k: Buffer) => k.toString("hex")],
    ["uppercase hex", (k: Buffer) => k.toString("hex").toUpperCase()],
    ["padded base64", (k: Buffer) => k.toString("base64")],
    ["unpadded base64", (k: Buffer) => k.toString("base64").replace(/=$/, "")],
    ["trailing newline from a file", (k: Buffer) => `${k.toString("hex")}\n`],
  ] as const)("accepts envValue as %s", async (_why, spell) => {
    const k = randomBytes(32);
    expect((await loadMasterKey({ envValue: spell(k), home })).equals(k)).toBe(true);
  });

  const hexKey = randomBytes(32).toString("hex");
  it.each([
    // why                                 envValue
    ["set but empty", ""],
    ["too short hex (16 bytes)", hexKey.slice(0, 32)],
    ["too long hex", `${hexKey}00`],
    ["hex with a non-hex char", `${hexKey.slice(0, 63)}g`],
    ["base64 of 16 bytes", randomBytes(16).toString("base64")],
    ["base64 of 48 bytes", randomBytes(48).toString("base64")],
    ["base64url alphabet", `${"-_".repeat(21)}A=`],
    ["non-canonical base64 (stray low bits)", `${"A".repeat(42)}B=`],
    ["a passphrase", "correct horse battery staple hunter2"],
  ] as const)("rejects envValue that is %s, without echoing it", async (_why, envValue) => {
    const err = await loadMasterKey({ envValue, home }).catch((e: unknown) => e as VaultError);
    expect(err).toBeInstanceOf(VaultError);
    expect((err as VaultError).code).toBe("VAULT_BAD_KEY");
    expect((err as VaultError).message).toMatch(/64 hex characters or base64 of 32 bytes/);
    if (envValue.length > 0) expect(rendered(err as Error)).not.toContain(envValue);
  });
});
