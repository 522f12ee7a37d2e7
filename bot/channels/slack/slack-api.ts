/**
 * Our side of the Slack Web API: the WebClient settings, one `call()` that retries rate limits
 * within a cap and maps every failure to a plain Error, and a logger adapter for Bolt. Tokens are
 * credentials: they travel only in the Authorization header, errors are built here from Slack's
 * error code (never from a library message that might quote a request), and every string that goes
 * to our log is scrubbed of both tokens anyway.
 */
import { type Logger, LogLevel, webApi } from "@slack/bolt";

export type SlackLog = (event: string, fields: Record<string, unknown>) => void;

/** A Slack Web API failure; `code` is Slack's own (`not_in_channel`, `invalid_auth`, …). */
export class SlackApiError extends Error {
  override readonly name = "SlackApiError";
  constructor(
    readonly method: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const HINTS: Record<string, string> = {
  invalid_auth: "the token was rejected",
  not_authed: "no token was sent",
  account_inactive: "the token belongs to a deactivated app or user",
  token_revoked: "the token was revoked",
  missing_scope: "the app lacks a scope; reinstall it from manifest.yaml",
  not_in_channel: "the bot is not in that channel; invite it with /invite",
  channel_not_found: "no such channel, or the bot cannot see it",
  is_archived: "the channel is archived",
  user_not_found: "no such user",
  user_not_in_channel: "that person is not in the channel",
  cant_delete_message: "Slack lets a bot delete only its own messages",
  message_not_found: "no such message",
  msg_too_long: "the message is too long",
  timeout: "no answer in time",
  ratelimited: "rate limited by Slack",
};
const MAX_RETRY_AFTER_S = 30;
const MAX_RETRIES = 2;

/** Replaces every occurrence of the given secrets; used on anything headed for a log or an error. */
export function scrubber(secrets: readonly (string | undefined)[]): (s: string) => string {
  const list = secrets.filter((s): s is string => typeof s === "string" && s.length >= 8);
  return (s) => list.reduce((acc, secret) => acc.split(secret).join("<token>"), s);
}

/** Options for our WebClient: no SDK-side retries (we own them), no absolute URLs. */
export function webClientOptions(apiUrl: string | undefined, logger: Logger): webApi.WebClientOptions {
  return {
    ...(apiUrl ? { slackApiUrl: apiUrl } : {}),
    logger,
    rejectRateLimitedCalls: true, // surfaces 429 to call() instead of sleeping for any Retry-After
    retryConfig: { retries: 0 },
    allowAbsoluteUrls: false, // method names are ours, but make "a URL instead of a method" impossible
    timeout: 30_000,
  };
}

type ErrorLike = { code?: unknown; data?: { error?: unknown }; retryAfter?: unknown; statusCode?: unknown };

/** Slack's error code for a failure, or a stable stand-in for transport errors. */
function codeOf(err: unknown): string {
  const e = (err ?? {}) as ErrorLike;
  if (e.code === webApi.ErrorCode.PlatformError && typeof e.data?.error === "string") return e.data.error;
  if (e.code === webApi.ErrorCode.RateLimitedError) return "ratelimited";
  if (e.code === webApi.ErrorCode.RequestError) return "unreachable";
  if (e.code === webApi.ErrorCode.HTTPError) return `http_${String(e.statusCode)}`;
  if (typeof e.code === "string" && /^E[A-Z_]+$/.test(e.code)) return e.code; // EADDRINUSE, ECONNREFUSED
  if (err instanceof Error && err.name === "TimeoutError") return "timeout";
  return "unknown_error";
}

/** A plain Error for a failed call: method, Slack's code and a hint; never a token. */
export function humanError(method: string, err: unknown, scrub: (s: string) => string): SlackApiError {
  if (err instanceof SlackApiError) return err;
  const code = codeOf(err)
    .replace(/[^\w.-]/g, "")
    .slice(0, 64);
  const hint = code === "unreachable" ? "could not reach the Slack API" : HINTS[code];
  return new SlackApiError(method, code, scrub(`Slack ${method} failed: ${code}${hint ? ` (${hint})` : ""}`));
}

/** Runs one Web API call; on 429 waits `Retry-After` (≤ 30 s) and retries, at most twice. */
export async function call<T>(
  method: string,
  fn: () => Promise<T>,
  ctx: { scrub: (s: string) => string; log?: SlackLog | undefined },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const e = (err ?? {}) as ErrorLike;
      const wait = e.code === webApi.ErrorCode.RateLimitedError ? Number(e.retryAfter ?? 1) : -1;
      if (attempt >= MAX_RETRIES || !(wait >= 0 && wait <= MAX_RETRY_AFTER_S)) {
        throw humanError(method, err, ctx.scrub);
      }
      ctx.log?.("slack.rate_limited", { method, retryAfter: wait });
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }
}

/** Bolt's and the SDK's log lines, scrubbed, as our log events; debug/info are dropped. */
export function boltLogger(log: SlackLog | undefined, scrub: (s: string) => string): Logger {
  let level = LogLevel.WARN;
  const emit =
    (event: string) =>
    (...msg: unknown[]) =>
      log?.(event, {
        message: scrub(msg.map((m) => (m instanceof Error ? m.message : String(m))).join(" ")),
      });
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: emit("slack.sdk_warning"),
    error: emit("slack.sdk_error"),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}
