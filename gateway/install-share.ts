/**
 * Replicas on one database must be one Warden to their agents: the same install CA (agents trust
 * it; every replica mints leaves from it) and the same control token. The first replica to start
 * seals its files into the store under the master key; every replica then writes the stored ones
 * to its home, replacing any local ones (the store is the shared truth). A replica with another
 * master key cannot open them and refuses to start, rather than quietly becoming a second Warden.
 * SQLite stores are one process's: nothing to share.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { Store } from "./store.js";
import type { Vault } from "./vault.js";

const KEY = "install-files";
const CONTEXT = "warden:install-files";
const Files = z.strictObject({ caKey: z.string(), caCert: z.string(), controlToken: z.string() });

const paths = (home: string) => ({
  caKey: join(home, "ca", "ca-key.pem"),
  caCert: join(home, "ca", "ca.pem"),
  controlToken: join(home, "control.token"),
});

/**
 * Shares the install files through `store`: `create` makes them locally (CA and token) when the
 * store has none yet. Returns whether the local files were replaced by the shared ones.
 */
export async function shareInstallFiles(
  store: Pick<Store, "kind" | "kvGet" | "kvPutIfAbsent">,
  vault: Pick<Vault, "sealBytes" | "openBytes">,
  home: string,
  create: () => Promise<void>,
): Promise<boolean> {
  if (store.kind !== "postgres") return false;
  const p = paths(home);
  if (!(await store.kvGet("install", KEY))) {
    await create();
    const mine = {
      caKey: await readFile(p.caKey, "utf8"),
      caCert: await readFile(p.caCert, "utf8"),
      controlToken: await readFile(p.controlToken, "utf8"),
    };
    await store.kvPutIfAbsent("install", KEY, vault.sealBytes(Buffer.from(JSON.stringify(mine)), CONTEXT));
  }
  const sealed = await store.kvGet("install", KEY);
  if (!sealed) throw new Error("the database holds no install files after storing them");
  let files: z.infer<typeof Files>;
  try {
    files = Files.parse(JSON.parse(vault.openBytes(sealed, CONTEXT).toString("utf8")));
  } catch {
    throw new Error(
      "the database's install CA was sealed with another WARDEN_MASTER_KEY: every replica needs the same key",
    );
  }
  let replaced = false;
  await mkdir(join(home, "ca"), { recursive: true, mode: 0o700 });
  for (const [name, mode] of [
    ["caKey", 0o600],
    ["caCert", 0o644],
    ["controlToken", 0o600],
  ] as const) {
    const local = await readFile(p[name], "utf8").catch(() => undefined);
    if (local === files[name]) continue;
    await writeFile(p[name], files[name], { mode });
    replaced = true;
  }
  return replaced;
}
