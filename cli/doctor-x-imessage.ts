/**
 * `warden doctor` checks for X DMs (`GET /2/users/me` with the four OAuth 1.0a keys) and iMessage
 * (`GET /api/v1/server/info` on the BlueBubbles server), each through the channel's own client.
 * Results are stable codes and the bot's @name or the server version: never a key, token, password
 * or the BlueBubbles URL's query (the password rides there).
 */
import { checkBlueBubbles } from "../bot/channels/imessage/index.js";
import { checkX } from "../bot/channels/x/index.js";
import type { Check } from "./doctor-checks.js";
import type { PlatformCheck } from "./doctor-platforms.js";

const x: PlatformCheck = {
  platform: "x",
  configured: (s) => s.x !== undefined,
  async check(s): Promise<Check[]> {
    const { pollMs: _poll, ...creds } = s.x as NonNullable<typeof s.x>;
    const r = await checkX(creds);
    return [
      r.ok
        ? { status: "ok", item: "x", message: `signed in as ${r.who}` }
        : {
            status: "fail",
            item: "x",
            message: `GET /2/users/me failed: ${r.code}`,
            fix: "check X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_SECRET (the bot account's, with DM read/write), and X_API_URL if set",
          },
    ];
  },
};

const imessage: PlatformCheck = {
  platform: "imessage",
  configured: (s) => s.imessage !== undefined,
  async check(s, ctx): Promise<Check[]> {
    const im = s.imessage as NonNullable<typeof s.imessage>;
    if (!im.password)
      return [
        {
          status: "warn",
          item: "imessage",
          message: "IMESSAGE_BLUEBUBBLES_PASSWORD is not in the environment: the server not checked here",
          fix: "set IMESSAGE_BLUEBUBBLES_PASSWORD, or keep it as the Warden secret of that name (warden start reads it)",
        },
      ];
    const r = await checkBlueBubbles(im.url, im.password, ctx.timeoutMs);
    return [
      r.ok
        ? { status: "ok", item: "imessage", message: r.detail }
        : {
            status: "fail",
            item: "imessage",
            message: `BlueBubbles server/info failed: ${r.code}`,
            fix: "check IMESSAGE_BLUEBUBBLES_URL (the server's address as this machine reaches it) and IMESSAGE_BLUEBUBBLES_PASSWORD",
          },
    ];
  },
};

export const X_IMESSAGE_CHECKS: readonly PlatformCheck[] = [x, imessage];
