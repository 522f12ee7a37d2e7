/**
 * Agents' proxy tokens, placeholders, and the sealed secret values behind them. Untrusted: names and
 * tokens from the control API and from Proxy-Authorization. Tokens are stored only as sha256 and
 * compared in constant time; secret values are sealed with the vault and opened on demand into
 * `Secret` wrappers, never written anywhere in the clear.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Secret } from "./secret.js";
import type { Store } from "./store.js";
import type { Vault } from "./vault.js";

/** Secret names are env var names, since that is how agents receive their placeholders. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Agent names end up in socket paths, container names and Basic auth: keep them plain. */
export const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();

/** Creates the credential registry over a store and vault. */
export function createCredentials(store: Store, vault: Vault, now: () => number = Date.now) {
  const placeholderCache = new Map<string, Map<string, string>>();
  // Opened values per secret version. The version is the sealed blob itself: every seal draws a
  // fresh IV, so a value set again (here or by `warden secret set` in another process) is a new
  // blob. Each call still reads the blob, so a change or removal takes effect at once; only the
  // AES-GCM open is skipped. A `Secret` never prints its value, so holding it adds no log path.
  const opened = new Map<string, { readonly sealed: Buffer; readonly secret: Secret }>();

  /** placeholder → secret name for one agent (cached; placeholders never change). */
  async function placeholdersOf(agent: string): Promise<ReadonlyMap<string, string>> {
    let m = placeholderCache.get(agent);
    if (!m) {
      m = await store.placeholdersOf(agent);
      placeholderCache.set(agent, m);
    }
    return m;
  }

  return {
    /** Registers (or re-keys) an agent and returns its new proxy token, shown only this once. */
    async issueToken(agent: string): Promise<string> {
      const token = randomBytes(24).toString("base64url");
      await store.putAgent({ name: agent, tokenHash: sha256(token).toString("hex"), createdAt: now() });
      return token;
    },

    /** True when `token` is the agent's current proxy token. */
    async authenticate(agent: string, token: string): Promise<boolean> {
      const rec = await store.getAgent(agent);
      if (!rec) return false;
      return timingSafeEqual(sha256(token), Buffer.from(rec.tokenHash, "hex"));
    },

    hasAgent: async (agent: string): Promise<boolean> => (await store.getAgent(agent)) !== undefined,
    listAgents: async (): Promise<string[]> => (await store.listAgents()).map((a) => a.name),

    removeAgent(agent: string): Promise<boolean> {
      placeholderCache.delete(agent);
      return store.deleteAgent(agent);
    },

    /** The agent's stable placeholder for `secret` (created on first use). */
    async placeholder(agent: string, secret: string): Promise<string> {
      // Called on every request for each secret of the host's policy: answer from the cache, and
      // touch the store (and drop the cache) only the first time a placeholder is made.
      for (const [p, s] of await placeholdersOf(agent)) if (s === secret) return p;
      const p = await store.placeholder(agent, secret, () => `wdn_${randomBytes(20).toString("hex")}`);
      placeholderCache.delete(agent);
      return p;
    },

    placeholdersOf,

    async setSecret(name: string, value: string): Promise<void> {
      opened.delete(name);
      await store.putSecret(name, vault.seal(value));
    },

    async deleteSecret(name: string): Promise<boolean> {
      opened.delete(name);
      return store.deleteSecret(name);
    },

    listSecrets: (): Promise<string[]> => store.listSecrets(),

    /**
     * The real value, or undefined when no value was set. The sealed blob is read on every call, so
     * a value changed by `warden secret set` in another process takes effect at once; it is opened
     * (decrypted) only when it differs from the blob opened last time.
     */
    async secret(name: string): Promise<Secret | undefined> {
      const sealed = await store.getSecret(name);
      if (!sealed) {
        opened.delete(name);
        return undefined;
      }
      const known = opened.get(name);
      if (known?.sealed.equals(sealed)) return known.secret;
      const secret = vault.open(sealed);
      opened.set(name, { sealed, secret });
      return secret;
    },
  };
}

export type Credentials = ReturnType<typeof createCredentials>;
