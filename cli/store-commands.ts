/**
 * Offline commands on WARDEN_HOME: verifying the audit chain and storing a secret without a running
 * gateway. The secret value is read from stdin (never argv, which other users can see in `ps`).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { createCredentials, loadMasterKey, openSqliteStore, type Store, SECRET_NAME, Vault } from "../gateway/index.js";
import { UsageError } from "./args.js";

/** Opens an existing store; refuses to create an empty one by accident. */
export function openStoreReadOnly(home: string): Store {
  const path = join(home, "warden.db");
  if (!existsSync(path)) throw new UsageError(`no Warden data at ${path}`);
  return openSqliteStore(path);
}

export async function setSecretCommand(o: { home: string; name: string; masterKey?: string; stdin: Readable }): Promise<void> {
  if (!SECRET_NAME.test(o.name)) throw new UsageError("secret names look like GITHUB_TOKEN");
  const chunks: Buffer[] = [];
  for await (const c of o.stdin) chunks.push(c as Buffer);
  const value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  if (!value) throw new UsageError("no value on stdin");
  const store = openSqliteStore(join(o.home, "warden.db"));
  try {
    const vault = Vault.fromKey(await loadMasterKey({ envValue: o.masterKey, home: o.home }));
    createCredentials(store, vault).setSecret(o.name, value);
  } finally {
    store.close();
  }
}
