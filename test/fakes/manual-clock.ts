/**
 * A fake clock for the approvals engine and the bot: `now()` and `schedule()` (the engine's timer
 * seam) read the same time, and nothing fires until a test calls `advance`. Timers due within the
 * advanced span fire in time order, each seeing `now()` at its own due time.
 */

export interface ManualClock {
  now(): number;
  schedule(fn: () => void, ms: number): () => void;
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void;
  /** Timers not yet fired or cancelled. */
  pending(): number;
}

/** `start`: epoch ms. Pass `holder` to share a settable `{ t }` with code that reads it directly. */
export function createManualClock(start: number, holder: { t: number } = { t: start }): ManualClock {
  holder.t = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => holder.t,
    schedule(fn, ms) {
      const id = ++seq;
      timers.set(id, { at: holder.t + Math.max(0, ms), fn });
      return () => void timers.delete(id);
    },
    advance(ms) {
      const end = holder.t + ms;
      for (;;) {
        const due = [...timers]
          .filter(([, x]) => x.at <= end)
          .sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
        const first = due[0];
        if (!first) break;
        timers.delete(first[0]);
        holder.t = Math.max(holder.t, first[1].at);
        first[1].fn();
      }
      holder.t = end;
    },
    pending: () => timers.size,
  };
}
