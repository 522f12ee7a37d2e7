/**
 * Discord API failures → plain errors. The bot token travels in a header and interaction tokens in
 * request URLs, so messages are built here from the status and JSON error code only (URLs are never
 * included) and scrubbed of the token, never passed through from the SDK.
 */
import { DiscordAPIError, HTTPError } from "discord.js";

const CODE_HINTS: Record<number, string> = {
  10003: "unknown channel",
  10008: "unknown message",
  10062: "the interaction expired (Discord allows 3 seconds to answer)",
  40060: "the interaction was already answered",
  50001: "missing access (the bot cannot see that channel)",
  50003: "Discord does not let bots do that in a DM (a bot cannot delete a person's DM messages)",
  50005: "a bot can only edit its own messages",
  50007: "cannot send messages to this user (DMs closed, or no server shared with the bot)",
  50013: "missing permissions in that channel",
  50035: "Discord rejected the message as malformed",
};

const STATUS_HINTS: Record<number, string> = {
  401: "the bot token was rejected",
  403: "forbidden",
  404: "not found",
};

/** The Discord JSON error code of `err`, if it is an API error. */
export function discordCode(err: unknown): number | undefined {
  return err instanceof DiscordAPIError && typeof err.code === "number" ? err.code : undefined;
}

/** A plain Error for a failed `what` (e.g. "send message"); never contains `token` or a URL. */
export function humanError(what: string, err: unknown, token: string): Error {
  const scrub = (s: string): string => (token ? s.split(token).join("<token>") : s);
  let reason: string;
  if (err instanceof DiscordAPIError) {
    const code = typeof err.code === "number" ? err.code : 0;
    reason = CODE_HINTS[code] ?? STATUS_HINTS[err.status] ?? `HTTP ${err.status}`;
    if (err.status === 401) reason = STATUS_HINTS[401] as string;
  } else if (err instanceof HTTPError) {
    reason = `Discord answered HTTP ${err.status}`;
  } else if (err instanceof Error && /TokenInvalid|invalid token/i.test(`${err.name} ${err.message}`)) {
    reason = STATUS_HINTS[401] as string;
  } else if (err instanceof Error && /Authentication failed/.test(err.message)) {
    reason = `${STATUS_HINTS[401]} (gateway closed with 4004)`;
  } else if (
    err instanceof Error &&
    /ECONNREFUSED|ENOTFOUND|fetch failed|ETIMEDOUT/.test(String(err.cause ?? err.message))
  ) {
    reason = "could not reach Discord";
  } else {
    reason = err instanceof Error ? err.message : String(err);
  }
  // No `cause`: the SDK error carries the request URL, which holds interaction tokens.
  return new Error(scrub(`Discord ${what} failed: ${reason}`));
}
