/**
 * Offline commands on WARDEN_HOME: verifying the audit chain and storing a secret without a running
 * gateway. The secret value is read from stdin (never argv, which other users can see in `ps`).
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  createCredentials,
  loadMasterKey,
  openPostgresStore,
  openSqliteStore,
  SECRET_NAME,
  type Store,
  Vault,
} from "../gateway/index.js";
import { UsageError } from "./args.js";

/** Opens an existing store; refuses to create an empty one by accident. */
/** The install's store: PostgreSQL when `databaseUrl` is set, else the SQLite file in `home`. */
export async function openInstallStore(home: string, databaseUrl?: string): Promise<Store> {
  if (databaseUrl) return openPostgresStore({ url: databaseUrl });
  const path = join(home, "warden.db");
  if (!existsSync(path)) throw new UsageError(`no Warden data at ${path}`);
  return openSqliteStore(path);
}

/** WARDEN_DATABASE_URL, checked: a postgres:// or postgresql:// URL, or unset. */
export function databaseUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^postgres(ql)?:\/\/[^\s]+$/.test(value))
    throw new UsageError("WARDEN_DATABASE_URL must be a postgres:// or postgresql:// URL");
  return value;
}

export async function setSecretCommand(o: {
  home: string;
  name: string;
  masterKey?: string;
  databaseUrl?: string;
  stdin: Readable;
}): Promise<void> {
  if (!SECRET_NAME.test(o.name)) throw new UsageError("secret names look like GITHUB_TOKEN");
  const chunks: Buffer[] = [];
  for await (const c of o.stdin) chunks.push(c as Buffer);
  const value = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
  if (!value) throw new UsageError("no value on stdin");
  const store = o.databaseUrl
    ? await openPostgresStore({ url: o.databaseUrl })
    : openSqliteStore(join(o.home, "warden.db"));
  try {
    const vault = Vault.fromKey(await loadMasterKey({ envValue: o.masterKey, home: o.home }));
    await createCredentials(store, vault).setSecret(o.name, value);
  } finally {
    await store.close();
  }
}

/** Copies the preset policies into an empty (or missing) policies directory; returns how many. */
export async function seedPolicies(dir: string, repoRoot: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await readdir(dir)).length > 0) return 0;
  // The YAML presets are not compiled into dist/, so they are read from the repository itself.
  const presets = join(repoRoot, "policies", "presets");
  const names = (await readdir(presets)).filter((n) => n.endsWith(".yaml"));
  for (const n of names) await copyFile(join(presets, n), join(dir, n));
  return names.length;
}
