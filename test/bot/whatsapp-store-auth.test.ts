/**
 * WhatsApp Web credentials in the bot store (store-auth.ts): they round-trip through the rows sealed
 * (no plaintext key, number or field name in any row), a row opened with another key or moved to
 * another row is refused with a stable code, and a logout deletes every row so the next connect
 * pairs anew. Never opens a connection: makeSocket is a fake.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type BotStore, openBotStore } from "../../bot/bot-store.js";
import { connectWhatsApp } from "../../bot/channels/whatsapp/connect.js";
import { AUTH_NS, storeAuthState } from "../../bot/channels/whatsapp/store-auth.js";
import { Vault } from "../../gateway/vault.js";
import { createFakeWhatsApp } from "../fakes/whatsapp-socket.js";
import { pollUntil } from "../fakes/poll-until.js";

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function rows(): Promise<BotStore> {
  const dir = await mkdtemp(join(tmpdir(), "wdn-waauth-"));
  const store = openBotStore(join(dir, "warden.db"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  cleanup.push(() => store.close());
  return store;
}

function sealer(key = randomBytes(32)) {
  const vault = Vault.fromKey(key);
  return {
    seal: (b: Buffer) => vault.sealBytes(b, "whatsapp-auth"),
    open: (b: Buffer) => vault.openBytes(b, "whatsapp-auth"),
  };
}

describe("WhatsApp auth state in the bot store", () => {
  it("round-trips creds and keys sealed: no plaintext in the rows", async () => {
    const store = await rows();
    const s = sealer();
    const first = await storeAuthState({ rows: store, sealer: s });
    first.state.creds.me = { id: "15551234567:1@s.whatsapp.net", name: "Warden" };
    await first.saveCreds();
    const syncKey = { keyData: Buffer.from("app-state-key-bytes") };
    await first.state.keys.set({
      "pre-key": { "7": { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } },
      "app-state-sync-key": { AAA: syncKey },
      session: { "15551234567.0": Buffer.from("signal-session-bytes") },
    });

    const again = await storeAuthState({ rows: store, sealer: s });
    expect(again.state.creds.me?.id).toBe("15551234567:1@s.whatsapp.net");
    expect(Buffer.from(again.state.creds.noiseKey.private)).toEqual(
      Buffer.from(first.state.creds.noiseKey.private),
    );
    expect(Buffer.from((await again.state.keys.get("pre-key", ["7"]))["7"]!.private)).toEqual(
      Buffer.alloc(32, 2),
    );
    const sync = (await again.state.keys.get("app-state-sync-key", ["AAA", "missing"])) as Record<
      string,
      { keyData?: Uint8Array }
    >;
    expect(Buffer.from(sync.AAA!.keyData!).toString()).toBe("app-state-key-bytes");
    expect(sync.missing).toBeUndefined();

    const stored = JSON.stringify(await store.stateList(AUTH_NS));
    const noise = Buffer.from(first.state.creds.noiseKey.private);
    for (const plain of [
      "15551234567:1",
      "noiseKey",
      "signal-session-bytes",
      Buffer.from("signal-session-bytes").toString("base64"),
      noise.toString("base64"),
      noise.toString("hex"),
      Buffer.alloc(32, 2).toString("base64"),
    ])
      expect(stored).not.toContain(plain);
  });

  it("refuses rows opened with another key or moved to another row (stable code)", async () => {
    const store = await rows();
    const s = sealer();
    const auth = await storeAuthState({ rows: store, sealer: s });
    await auth.saveCreds();
    await expect(storeAuthState({ rows: store, sealer: sealer() })).rejects.toMatchObject({
      code: "WHATSAPP_AUTH_UNREADABLE",
    });
    const creds = await store.stateGet(AUTH_NS, "creds");
    await store.statePut(AUTH_NS, "session:x", creds!, Date.now() + 60_000);
    await expect(auth.state.keys.get("session", ["x"])).rejects.toMatchObject({
      code: "WHATSAPP_AUTH_UNREADABLE",
    });
  });

  it("connectWhatsApp saves creds to the store; a logout deletes every row and the next connect pairs anew", async () => {
    const store = await rows();
    const s = sealer();
    const wa = createFakeWhatsApp();
    const statuses: string[] = [];
    let auth: { creds: { me?: unknown } } | undefined;
    const connect = () =>
      connectWhatsApp({
        authStore: { rows: store, sealer: s },
        onQr: () => undefined,
        onStatus: (st) => statuses.push(st),
        makeSocket: ((config: { auth: { creds: { me?: unknown } } }) => {
          auth = config.auth;
          return wa.makeSocket();
        }) as never,
      });
    const sock = await connect();
    cleanup.push(async () => sock.end(undefined));
    auth!.creds.me = { id: "15551234567:1@s.whatsapp.net" };
    wa.emit("creds.update", {});
    await pollUntil("creds saved", async () => ((await store.stateGet(AUTH_NS, "creds")) ? true : undefined));

    const leader = await storeAuthState({ rows: store, sealer: s }); // another replica taking over
    expect(leader.state.creds.me?.id).toBe("15551234567:1@s.whatsapp.net");

    wa.disconnect(401); // DisconnectReason.loggedOut
    expect(statuses).toContain("logged_out");
    const next = await connect(); // waits for the deletion
    cleanup.push(async () => next.end(undefined));
    expect(await store.stateList(AUTH_NS)).toEqual([]);
    expect(auth!.creds.me).toBeUndefined();
  });
});
