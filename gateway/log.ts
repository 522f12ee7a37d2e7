/**
 * Structured logs: one JSON object per line. Callers pass only fields they built themselves (names,
 * hosts, codes); request headers and bodies are never logged, so a secret has no way into a log line.
 */

export type Log = (event: string, fields?: Record<string, unknown>) => void;

/** A logger writing JSON lines to `write` (stdout in the CLI, an array in tests). */
export function createLog(write: (line: string) => void, now: () => number = Date.now): Log {
  return function log(event, fields = {}) {
    write(`${JSON.stringify({ ts: new Date(now()).toISOString(), event, ...fields })}\n`);
  };
}

/** Discards everything; for tests that do not look at logs. */
export const silentLog: Log = () => undefined;
