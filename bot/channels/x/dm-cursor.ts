/**
 * Where the X channel is in the DM timeline, kept across restarts: the newest DM event id the poll
 * has passed (`newest`) and the ids above it already handled (from the webhook, ahead of the poll).
 * A restart then neither replays old DMs (a week-old "approve k3f9x2" must not act again) nor loses
 * the ones that arrived while Warden was down. X event ids are snowflakes: numeric order is time
 * order. The file holds ids only, never message text.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

export interface DmCursor {
  readonly newest: string;
  /** Ids above `newest` already handled. */
  readonly seen: readonly string[];
}

export interface CursorStore {
  load(): DmCursor | undefined;
  save(c: DmCursor): void;
}

const Stored = z.object({
  newest: z.string().regex(/^[0-9]{1,25}$/),
  seen: z.array(z.string().regex(/^[0-9]{1,25}$/)).max(10_000),
});

/** `a > b` for snowflake ids. */
export const newer = (a: string, b: string): boolean => BigInt(a) > BigInt(b);

/** The cursor in a JSON file, replaced atomically (a crash leaves the old or the new one). */
export function fileCursorStore(path: string): CursorStore {
  return {
    load() {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(path, "utf8"));
      } catch {
        return undefined;
      }
      const r = Stored.safeParse(raw);
      // A damaged file is a fresh start: nothing older than now acts (fail closed), never a replay.
      return r.success ? r.data : undefined;
    },
    save(c) {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, JSON.stringify({ newest: c.newest, seen: c.seen.slice(-10_000) }), { mode: 0o600 });
      renameSync(tmp, path);
    },
  };
}

/** In memory (tests; a restart is simulated by reusing the store). */
export function memoryCursorStore(): CursorStore & { current(): DmCursor | undefined } {
  let c: DmCursor | undefined;
  return {
    load: () => c,
    save(n) {
      c = n;
    },
    current: () => c,
  };
}
