/**
 * Which replica holds the single-consumer work: chat connections that allow one consumer per
 * account (Telegram polling, Discord gateway, WhatsApp Web, Matrix sync, IMAP IDLE) and the agent
 * manager's restart and idle loop. One process on SQLite is always the leader; replicas on
 * PostgreSQL elect one (postgres/leader.ts). Work that must run once listens for the change.
 */

export interface Leadership {
  isLeader(): boolean;
  /** Called with the new state each time it changes (not for the state at subscription). */
  onChange(fn: (leader: boolean) => void): () => void;
  close(): Promise<void>;
}

/** The one process of a SQLite install: leader for life. */
export function soleLeader(): Leadership {
  return { isLeader: () => true, onChange: () => () => undefined, close: async () => undefined };
}

/** A small change notifier for Leadership implementations. */
export function leaderState(initial = false) {
  let leader = initial;
  const fns = new Set<(leader: boolean) => void>();
  return {
    get: () => leader,
    set(next: boolean): void {
      if (next === leader) return;
      leader = next;
      for (const fn of [...fns]) fn(next);
    },
    onChange(fn: (leader: boolean) => void): () => void {
      fns.add(fn);
      return () => void fns.delete(fn);
    },
  };
}
