/**
 * Short approval codes for platforms where a tap carries no card reference (GitHub, Linear, X, Email …): each
 * card (and each item of a batch card) shows a code, and a reply `/approve <code>` or `/deny <code>`
 * is the tap. The code maps back to the exact card message and the exact button data we put on it,
 * so the bot's usual checks apply (the card was sent for that approval; the signed sender may vote).
 * Reply text is untrusted: only `verb code`, nothing else on the line, is read as a decision.
 * With a `CodeStore` (the bot's SQLite file) codes outlive a restart: `/approve <code>` typed after
 * Warden restarted still finds its card.
 */
import { randomInt } from "node:crypto";
import type { Card, SentRef } from "../channel.js";

export type CodeVerb = "approve" | "deny" | "grant";

/** Unambiguous lower-case letters and digits (no 0/o, 1/l/i). */
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";
const CODE_LEN = 6;
const MAX_CODES = 50_000;

export interface CodeTarget {
  readonly ref: SentRef;
  /** The button data offered for each verb, as drawn on the card. */
  readonly data: Partial<Record<CodeVerb, string>>;
}

/** `approve k3f9x2` / `/deny k3f9x2` (case-insensitive), alone on the message; else undefined. */
export function parseCodeReply(text: string): { verb: CodeVerb; code: string } | undefined {
  const m = /^\s*\/?(approve|deny|grant)\s+([a-z0-9]{6})\s*$/i.exec(text);
  if (!m?.[1] || !m[2]) return undefined;
  return { verb: m[1].toLowerCase() as CodeVerb, code: m[2].toLowerCase() };
}

/** The verb a button's data stands for (`a:<id>:approve`, batch `b:…:approve` …). */
export function verbOfData(data: string): CodeVerb | undefined {
  const m = /:(approve|deny|grant)$/.exec(data);
  return m?.[1] as CodeVerb | undefined;
}

export interface ApprovalCodes {
  /** A fresh code (not yet bound to a message). */
  fresh(): Promise<string>;
  /** Binds `code` to the card message `ref` and the buttons offered (kept after decisions). */
  bind(code: string, ref: SentRef, buttons: Card["buttons"]): Promise<void>;
  lookup(code: string): Promise<CodeTarget | undefined>;
}

/** Where one platform's codes outlive a restart; memory stays the first place looked. */
export interface CodeStore {
  get(code: string): Promise<CodeTarget | undefined>;
  put(code: string, target: CodeTarget): Promise<void>;
}

export function createApprovalCodes(store?: CodeStore): ApprovalCodes {
  const targets = new Map<string, CodeTarget>();
  const pending = new Set<string>();
  const known = async (code: string): Promise<CodeTarget | undefined> =>
    targets.get(code) ?? (await store?.get(code));
  return {
    async fresh() {
      for (;;) {
        let code = "";
        for (let i = 0; i < CODE_LEN; i++) code += ALPHABET[randomInt(ALPHABET.length)];
        if (pending.has(code)) continue;
        // Reserved before the store is read, so a concurrent draw cannot hand out the same code.
        pending.add(code);
        // A code drawn before a restart is still some card's: never hand it out again.
        if ((await known(code)) === undefined) return code;
        pending.delete(code);
      }
    },
    async bind(code, ref, buttons) {
      pending.delete(code);
      const old = await known(code);
      const data: Partial<Record<CodeVerb, string>> = { ...old?.data };
      // A decided card has no buttons: keep what it offered, so a late reply hears "Already decided".
      for (const b of buttons) {
        const verb = verbOfData(b.data);
        if (verb) data[verb] = b.data;
      }
      targets.set(code, { ref, data });
      await store?.put(code, { ref, data });
      if (targets.size > MAX_CODES) {
        const oldest = targets.keys().next().value;
        if (oldest !== undefined) targets.delete(oldest);
      }
    },
    lookup: known,
  };
}
