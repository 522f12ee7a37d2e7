/**
 * WhatsApp Web credentials (baileys' AuthenticationState: the creds and the Signal keys) kept in the
 * bot store's `bot_state` rows instead of a directory, so a new leader replica takes over the linked
 * device. They are the WhatsApp account itself: every row is SEALED by the caller's sealer (the
 * vault's key), and each sealed value names its own row, so a value copied into another row (or an
 * edited one) does not open as something else. Loaded lazily with connect.ts (it loads baileys).
 * Untrusted: the rows (whoever can write the database). Logged out → every row is deleted.
 */
import { BufferJSON, initAuthCreds, proto, type AuthenticationState, type SignalDataTypeMap } from "baileys";
import type { StateRows } from "../../persisted-state.js";

/** Seals bytes for the store and opens them again (the vault's sealBytes/openBytes with a fixed context). */
export interface AuthSealer {
  seal(plaintext: Buffer): Buffer;
  open(sealed: Buffer): Buffer;
}

/** Where connect.ts keeps the credentials when not in a directory. */
export interface StoreAuthOptions {
  readonly rows: StateRows;
  readonly sealer: AuthSealer;
}

export const AUTH_NS = "whatsapp-auth";
/** Credentials do not expire by themselves; WhatsApp revokes them (a logout deletes the rows). */
const FOREVER = 100 * 365 * 24 * 3600_000;
const CREDS = "creds";

/** A sealed row that does not open means the key changed or the row was edited: a stable code. */
export class WhatsAppAuthError extends Error {
  readonly code = "WHATSAPP_AUTH_UNREADABLE";
}

// A logout's deletion must finish before the next connect (any reconnect) reads the rows.
const clearing = new WeakMap<StateRows, Promise<void>>();

/** The auth state over the store, its saveCreds, and clear() for a logout. */
export async function storeAuthState(o: StoreAuthOptions): Promise<{
  state: AuthenticationState;
  saveCreds(): Promise<void>;
  clear(): Promise<void>;
}> {
  const { rows, sealer } = o;
  await clearing.get(rows);
  let cleared = false;

  const write = async (key: string, value: unknown): Promise<void> => {
    if (cleared) return; // never resurrect credentials WhatsApp revoked
    const text = JSON.stringify({ k: key, v: value }, BufferJSON.replacer);
    await rows.statePut(
      AUTH_NS,
      key,
      sealer.seal(Buffer.from(text, "utf8")).toString("base64"),
      Date.now() + FOREVER,
    );
  };
  const read = async (key: string): Promise<unknown> => {
    const stored = await rows.stateGet(AUTH_NS, key);
    if (stored === undefined) return undefined;
    let parsed: { k?: unknown; v?: unknown };
    try {
      parsed = JSON.parse(sealer.open(Buffer.from(stored, "base64")).toString("utf8"), BufferJSON.reviver);
    } catch {
      throw new WhatsAppAuthError(`the stored WhatsApp credentials do not open (row ${AUTH_NS}/${key})`);
    }
    if (parsed.k !== key) throw new WhatsAppAuthError(`a stored WhatsApp credential is in the wrong row`);
    return parsed.v ?? undefined;
  };

  const creds = ((await read(CREDS)) as AuthenticationState["creds"] | undefined) ?? initAuthCreds();
  const state: AuthenticationState = {
    creds,
    keys: {
      async get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
        const out: { [id: string]: SignalDataTypeMap[T] } = {};
        for (const id of ids) {
          let value = (await read(`${type}:${id}`)) as SignalDataTypeMap[T] | undefined;
          if (type === "app-state-sync-key" && value)
            value = proto.Message.AppStateSyncKeyData.fromObject(
              value as Record<string, unknown>,
            ) as unknown as SignalDataTypeMap[T];
          if (value !== undefined) out[id] = value;
        }
        return out;
      },
      async set(data) {
        for (const [type, byId] of Object.entries(data)) {
          for (const [id, value] of Object.entries(byId ?? {})) {
            if (value) await write(`${type}:${id}`, value);
            else await rows.stateDelete(AUTH_NS, `${type}:${id}`);
          }
        }
      },
    },
  };
  return {
    state,
    saveCreds: () => write(CREDS, state.creds),
    clear() {
      cleared = true;
      const done = (async () => {
        for (const r of await rows.stateList(AUTH_NS)) await rows.stateDelete(AUTH_NS, r.key);
      })();
      clearing.set(rows, done);
      return done;
    },
  };
}
