/**
 * Bodies of held requests, kept out of memory while a human decides. Untrusted: the body bytes (the
 * agent's) and whatever is on disk or in the store when we read it back (it may have been edited,
 * swapped between approvals, or truncated). Every body is sealed with the vault key (AES-256-GCM,
 * fresh nonce, bound to its approval id): small ones in the store, larger ones in a 0600 spool file
 * under `<home>/held/`. Reading back checks the seal and the sha256 the approval was made for, so
 * the bytes that go out after approval are exactly the bytes the card described, or nothing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { BodyPlace, Store } from "./store.js";

/** Seals bytes to a context; `Vault` is the real one. */
export interface Sealer {
  sealBytes(plaintext: Buffer, context: string): Buffer;
  openBytes(blob: Buffer, context: string): Buffer;
}

/** Bodies above this many bytes go to a spool file rather than the store. */
export const SPOOL_ABOVE = 64 * 1024;

/** Approval ids are ours (UUIDs); anything else never becomes a file name. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface HeldBodies {
  /** Where a body of `bytes` bytes is kept. */
  placeFor(bytes: number): BodyPlace;
  /** Seals and writes the body; resolves once it is durable. */
  put(id: string, body: Buffer): Promise<void>;
  /** Reads back (waiting for a write still under way), opens and checks the digest; throws otherwise. */
  take(id: string, place: BodyPlace, digest: string): Promise<Buffer>;
  /** Deletes a body; never throws (a missing body is already gone). */
  drop(id: string): Promise<void>;
  /** Deletes every stored body whose approval is not `live` (left by a crash or an older run). */
  sweep(live: (id: string) => boolean): Promise<number>;
  /** Resolves once no write is under way (shutdown waits, so a spool file is never cut short). */
  idle(): Promise<void>;
}

export interface HeldBodiesOptions {
  readonly dir: string;
  readonly sealer: Sealer;
  readonly store: Pick<Store, "putHeldBody" | "getHeldBody" | "deleteHeldBody" | "listHeldBodies">;
  readonly spoolAbove?: number;
}

/** sha256 hex of a body: what an approval's fingerprint and `bodyDigest` are made of. */
export function bodyDigest(body: Buffer): string {
  return createHash("sha256").update(body).digest("hex");
}

/** Creates the held-body keeper for one gateway home. */
export function createHeldBodies(opts: HeldBodiesOptions): HeldBodies {
  const { dir, sealer, store } = opts;
  const spoolAbove = opts.spoolAbove ?? SPOOL_ABOVE;
  // A take() that races a put() for the same id waits for it instead of reading half a file.
  const writing = new Map<string, Promise<void>>();
  const fileOf = (id: string): string => {
    if (!SAFE_ID.test(id)) throw new Error("approval id is not a safe file name");
    return join(dir, `${id}.body`);
  };

  async function write(id: string, body: Buffer): Promise<void> {
    const sealed = sealer.sealBytes(body, id);
    if (body.length <= spoolAbove) return store.putHeldBody(id, sealed);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // "wx": never follow or overwrite something already at that name.
    const fh = await open(fileOf(id), "wx", 0o600);
    try {
      await fh.writeFile(sealed);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  return {
    placeFor: (bytes) => (bytes === 0 ? "none" : bytes <= spoolAbove ? "store" : "spool"),

    put(id, body) {
      if (body.length === 0) return Promise.resolve();
      const p = write(id, body).finally(() => writing.delete(id));
      writing.set(id, p);
      return p;
    },

    async take(id, place, digest) {
      await writing.get(id)?.catch(() => undefined);
      let body: Buffer;
      if (place === "none") body = Buffer.alloc(0);
      else {
        const sealed = place === "store" ? await store.getHeldBody(id) : await readFile(fileOf(id));
        if (!sealed) throw new Error("held body is missing");
        body = sealer.openBytes(sealed, id);
      }
      const want = Buffer.from(digest, "hex");
      const got = createHash("sha256").update(body).digest();
      if (want.length !== got.length || !timingSafeEqual(want, got))
        throw new Error("held body does not match its approval");
      return body;
    },

    async drop(id) {
      await writing.get(id)?.catch(() => undefined);
      await store.deleteHeldBody(id);
      if (SAFE_ID.test(id)) await rm(fileOf(id), { force: true }).catch(() => undefined);
    },

    async sweep(live) {
      let n = 0;
      for (const id of await store.listHeldBodies()) {
        if (!live(id) && !writing.has(id)) {
          await store.deleteHeldBody(id);
          n++;
        }
      }
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const id = name.endsWith(".body") ? name.slice(0, -5) : "";
        // Anything in the spool folder that is not a live body is removed, whatever its name.
        if (id && SAFE_ID.test(id) && (live(id) || writing.has(id))) continue;
        await rm(join(dir, name), { force: true, recursive: true }).catch(() => undefined);
        n++;
      }
      return n;
    },

    async idle() {
      await Promise.allSettled([...writing.values()]);
    },
  };
}

/** Keeps bodies in memory: for tests and callers that run without a home. */
export function memoryHeldBodies(): HeldBodies {
  const kept = new Map<string, Buffer>();
  return {
    placeFor: (bytes) => (bytes === 0 ? "none" : "store"),
    put: async (id, body) => void kept.set(id, Buffer.from(body)),
    async take(id, place, digest) {
      const body = place === "none" ? Buffer.alloc(0) : kept.get(id);
      if (!body || bodyDigest(body) !== digest) throw new Error("held body is missing or altered");
      return body;
    },
    drop: async (id) => void kept.delete(id),
    async sweep(live) {
      let n = 0;
      for (const id of kept.keys()) if (!live(id) && kept.delete(id)) n++;
      return n;
    },
    idle: async () => undefined,
  };
}
