/**
 * Errors from matrix-js-sdk as plain messages, and a logger that keeps the SDK quiet. A MatrixError
 * names the request URL and the homeserver's text; the access token travels in the Authorization
 * header, never the URL, but every message is scrubbed of it all the same. Our logs get error codes
 * and names only (the SDK's own logging is silenced: it prints event contents and URLs).
 */
import { type Logger, logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";

const noop = (): void => undefined;

/**
 * Quiets the SDK's global logger (loglevel underneath): its own level, and the method factory that
 * loggers it creates later (per client, per room) inherit. Idempotent.
 */
export function quietSdk(): void {
  const l = sdkLogger as unknown as {
    methodFactory: unknown;
    rebuild?: () => void;
    setLevel(l: string): void;
  };
  l.methodFactory = () => noop;
  l.setLevel("silent");
  l.rebuild?.();
}
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  getChild: () => silentLogger,
};

const HINTS: Record<string, string> = {
  M_UNKNOWN_TOKEN: "the access token was rejected (MATRIX_ACCESS_TOKEN)",
  M_MISSING_TOKEN: "no access token was sent",
  M_FORBIDDEN: "the homeserver refused (is the bot in that room?)",
  M_LIMIT_EXCEEDED: "rate-limited by the homeserver",
};

interface Shaped {
  errcode?: unknown;
  httpStatus?: unknown;
  name?: unknown;
  message?: unknown;
}

export interface MatrixErrors {
  /** An Error whose message says what failed, in words; never the token. */
  human(what: string, err: unknown): Error;
  /** A short name for logs: errcode, else the error's class. */
  name(err: unknown): string;
}

export function createMatrixErrors(token: string): MatrixErrors {
  const scrub = (s: string): string => (token ? s.split(token).join("<token>") : s);
  return {
    human(what, err) {
      const e = (err ?? {}) as Shaped;
      const code = typeof e.errcode === "string" ? e.errcode : undefined;
      const status = typeof e.httpStatus === "number" ? e.httpStatus : undefined;
      if (code)
        return new Error(
          scrub(`Matrix ${what} failed: ${HINTS[code] ?? code}${status ? ` (HTTP ${status})` : ""}`),
        );
      if (e.name === "ConnectionError" || e.name === "TypeError")
        return new Error(`Matrix ${what} failed: could not reach the homeserver`);
      const message = typeof e.message === "string" ? e.message : String(err);
      return new Error(scrub(`Matrix ${what} failed: ${message.replace(/\s*\(https?:\/\/[^)]*\)/g, "")}`));
    },
    name(err) {
      const e = (err ?? {}) as Shaped;
      if (typeof e.errcode === "string") return e.errcode;
      return typeof e.name === "string" ? e.name : "Error";
    },
  };
}
