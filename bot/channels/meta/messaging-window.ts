/**
 * Meta's 24-hour messaging window (Messenger and Instagram): a business may send a person free-form
 * messages only within 24 hours of that person's last message to it. The channel keeps each person's
 * last inbound time (dated by Meta's signed timestamp) and, outside the window, sends nothing: the
 * card or text fails with `MessagingWindowClosed` (the bot logs the card as undeliverable; the
 * approval stays held for the other approvers, or is refused when nobody could be reached). The Send
 * API's own window refusal is read the same way. A person never seen (or seen before a restart, with
 * the memory store) is outside the window: fail closed. The store is a seam so the bot's SQLite
 * file can keep these times across restarts.
 */

/** Meta counts 24 h from the person's message; ours is dated ≤ 5 minutes late, so keep a margin. */
export const WINDOW_MS = 24 * 3600_000 - 10 * 60_000;

/** Async: the times may live in the bot store (any replica's webhook may have seen the message). */
export interface WindowStore {
  /** When `user` last wrote to us (ms), if known. */
  lastInbound(user: string): Promise<number | undefined>;
  sawInbound(user: string, at: number): Promise<void>;
  /** The platform said the window is closed: forget the time we had. */
  forget(user: string): Promise<void>;
}

/** Stable error: nothing was sent because the person's messaging window is closed. */
export class MessagingWindowClosed extends Error {
  override readonly name = "MessagingWindowClosed";
  readonly code = "messaging_window_closed";
  get undeliverable(): string {
    return `they have not written to the bot on ${this.platform === "instagram" ? "Instagram" : "Messenger"} in the last 24 hours`;
  }
  constructor(readonly platform: string) {
    super(`${platform}: the 24-hour messaging window with this person is closed; nothing was sent`);
  }
}

/** Times in memory, bounded (oldest forgotten first: they are the likeliest to be closed anyway). */
export function memoryWindowStore(max = 100_000): WindowStore {
  const times = new Map<string, number>();
  return {
    lastInbound: async (user) => times.get(user),
    async sawInbound(user, at) {
      times.delete(user);
      times.set(user, Math.max(at, 0));
      if (times.size > max) {
        const oldest = times.keys().next().value;
        if (oldest !== undefined) times.delete(oldest);
      }
    },
    forget: async (user) => void times.delete(user),
  };
}

export async function windowOpen(store: WindowStore, user: string, now: number): Promise<boolean> {
  const at = await store.lastInbound(user);
  return at !== undefined && now - at < WINDOW_MS;
}
