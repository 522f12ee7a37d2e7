/**
 * `warden doctor`'s WhatsApp Web check: is a device linked, where `warden start` will look for it.
 * A device linked before the credentials moved into the store keeps `WARDEN_HOME/whatsapp/creds.json`
 * (start still uses that directory while the file exists); otherwise the linked device is the
 * `whatsapp-auth`/`creds` row of the bot store's `bot_state` (warden.db, or the PostgreSQL of
 * WARDEN_DATABASE_URL), sealed with the master key. Untrusted: the file, the row and the database.
 * The credentials are the WhatsApp account itself: nothing read here is printed (not even the
 * phone number), database errors are reported by code only, and nothing is created (no tables,
 * no warden.db, no master key).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { loadMasterKey, openPostgresSql, openSqliteSql, type Sql, Vault } from "../gateway/index.js";
import type { Check } from "./doctor-checks.js";
import type { PlatformCheck } from "./doctor-platforms.js";

/** Where start looks (cli/chat-channels.ts) and what it writes (bot/channels/whatsapp/store-auth.ts). */
const AUTH_NS = "whatsapp-auth";
const CREDS = "creds";

/** Where doctor looks: the same home, database and master key source as `warden start`. */
export interface WhatsAppContext {
  readonly home: string;
  /** WARDEN_DATABASE_URL; undefined: SQLite in `home/warden.db`. */
  readonly databaseUrl?: string;
  /** WARDEN_MASTER_KEY; undefined: `home/master.key` if it exists (never created here). */
  readonly masterKey?: string;
}

/** What was found, before it is worded. */
export type WhatsAppPairing =
  | { readonly kind: "legacy"; readonly paired: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "stored"; readonly paired: boolean }
  | { readonly kind: "no-key" }
  | { readonly kind: "unreadable" }
  | { readonly kind: "store-error"; readonly code: string };

// baileys' creds once a phone scanned the QR; before that they have no `me` (and may be saved anyway).
const Paired = z.object({ me: z.object({ id: z.string().min(1) }) });
const Row = z.object({ k: z.literal(CREDS), v: z.unknown() });

/** Finds the linked device the way start would use it. */
export async function findWhatsAppPairing(ctx: WhatsAppContext): Promise<WhatsAppPairing> {
  const legacy = join(ctx.home, "whatsapp", "creds.json");
  // Start keeps using the directory while this file exists, whatever the store holds.
  if (existsSync(legacy)) {
    const paired = await readFile(legacy, "utf8")
      .then((t) => Paired.safeParse(JSON.parse(t)).success)
      .catch(() => false);
    return { kind: "legacy", paired };
  }
  let sealed: string | undefined;
  try {
    sealed = await readCredsRow(ctx);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { kind: "store-error", code: typeof code === "string" ? code : "unreadable" };
  }
  if (sealed === undefined) return { kind: "none" };
  const key = await masterKey(ctx);
  if (key === undefined) return { kind: "no-key" };
  try {
    const text = Vault.fromKey(key).openBytes(Buffer.from(sealed, "base64"), AUTH_NS).toString("utf8");
    const row = Row.safeParse(JSON.parse(text));
    if (!row.success) return { kind: "unreadable" };
    return { kind: "stored", paired: Paired.safeParse(row.data.v).success };
  } catch {
    return { kind: "unreadable" };
  } finally {
    key.fill(0);
  }
}

/** The sealed `creds` row, or undefined when there is none (no warden.db, no bot tables yet, no row). */
async function readCredsRow(ctx: WhatsAppContext): Promise<string | undefined> {
  let sql: Sql;
  if (ctx.databaseUrl) sql = await openPostgresSql({ url: ctx.databaseUrl, max: 1 });
  else {
    const file = join(ctx.home, "warden.db");
    if (!existsSync(file)) return undefined; // opening it would create it
    sql = openSqliteSql(file);
  }
  try {
    const row = await sql.get<{ value: string }>(
      "SELECT value FROM bot_state WHERE ns = ? AND key = ? AND expires_at > ?",
      [AUTH_NS, CREDS, Date.now()],
    );
    return row?.value;
  } catch (err) {
    // Read only: a store whose bot never started has no bot_state table, which is "nothing linked".
    const e = err as { code?: unknown; message?: unknown };
    if (e.code === "42P01" || String(e.message).startsWith("no such table")) return undefined;
    throw err;
  } finally {
    await sql.close();
  }
}

/** Start's source (WARDEN_MASTER_KEY, else home/master.key), without creating a key file. */
async function masterKey(ctx: WhatsAppContext): Promise<Buffer | undefined> {
  if (ctx.masterKey === undefined && !existsSync(join(ctx.home, "master.key"))) return undefined;
  try {
    return await loadMasterKey({ envValue: ctx.masterKey, home: ctx.home });
  } catch {
    return undefined; // a bad key is the home check's to report; here it cannot open the row
  }
}

const PAIR =
  "run warden start with WHATSAPP=1 and scan the QR it prints (or <web>/pair/whatsapp as the owner)";

/** One line for the report. */
export function wordWhatsApp(p: WhatsAppPairing, ctx: WhatsAppContext): Check {
  const where = ctx.databaseUrl ? "the database (WARDEN_DATABASE_URL)" : "WARDEN_HOME/warden.db";
  const item = "whatsapp";
  switch (p.kind) {
    case "legacy":
      return p.paired
        ? {
            status: "ok",
            item,
            message: `paired (linked before the store: ${join(ctx.home, "whatsapp", "creds.json")}, still used as it is)`,
          }
        : {
            status: "warn",
            item,
            message: `not paired yet (no paired auth state in ${join(ctx.home, "whatsapp", "creds.json")})`,
            fix: `delete ${join(ctx.home, "whatsapp")} so the pairing is kept in ${where}, then ${PAIR}`,
          };
    case "stored":
      return p.paired
        ? { status: "ok", item, message: `paired (linked device in ${where})` }
        : { status: "warn", item, message: `not paired yet (no paired auth state in ${where})`, fix: PAIR };
    case "none":
      return {
        status: "warn",
        item,
        message: `not paired yet (no paired auth state in ${where})`,
        fix: PAIR,
      };
    case "no-key":
      return {
        status: "warn",
        item,
        message: `a linked device is stored in ${where}, but there is no master key here to open it with`,
        fix: "set WARDEN_MASTER_KEY to the key of the Warden that paired it (the same on every replica)",
      };
    case "unreadable":
      return {
        status: "fail",
        item,
        message: `the linked device stored in ${where} does not open with this master key`,
        fix: "use the master key it was sealed with (WARDEN_MASTER_KEY, the same on every replica), or delete its rows (DELETE FROM bot_state WHERE ns = 'whatsapp-auth') and pair again",
      };
    case "store-error":
      return {
        status: "warn",
        item,
        message: `could not read the pairing from ${where} (${p.code})`,
        fix: "fix the database first (see the database check), then run warden doctor again",
      };
  }
}

/** The entry in PLATFORM_CHECKS. */
export const whatsappCheck: PlatformCheck = {
  platform: "whatsapp",
  configured: (s) => s.whatsapp !== undefined,
  async check(_s, ctx) {
    return [wordWhatsApp(await findWhatsAppPairing(ctx), ctx)];
  },
};
