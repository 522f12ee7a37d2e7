/**
 * `warden doctor` checks for Webex, Messenger and Instagram: one harmless authenticated call each,
 * through the channels' own clients (Webex `GET /people/me`; Meta `GET /me` on the Graph API base).
 * Untrusted: the answers and the configured API bases. A token never reaches the output: the
 * clients' errors are a status and Meta's numeric code only, and the name shown is the platform's
 * only when short, plain and sharing nothing with a secret.
 */
import { createGraphSendApi, DEFAULT_API_URL, GraphApiError } from "../bot/channels/meta/index.js";
import { createWebexApi, DEFAULT_WEBEX_API, WebexApiError } from "../bot/channels/webex/index.js";
import type { ChatSettings } from "./chat-channels.js";
import type { Check } from "./doctor-checks.js";
import { origin, plain, type PlatformCheck } from "./doctor-platforms.js";

/** Platform words as the doctor may show them (doctor-platforms.ts `plain`); nothing when absent. */
const shown = (s: string | undefined, secrets: readonly string[]): string =>
  s ? plain(s, secrets) : "(not shown)";

/** Words for a failed call: refused (a status came back) or unreachable. */
function failed(item: string, err: unknown, tokenVar: string, urlVar: string, url: string): Check {
  const status = err instanceof WebexApiError || err instanceof GraphApiError ? err.status : 0;
  if (status !== 0)
    return {
      status: "fail",
      item,
      message: `the token in ${tokenVar} was refused: HTTP ${status}${err instanceof GraphApiError && err.code ? ` (code ${err.code})` : ""}`,
      fix: `put a valid token in ${tokenVar}, or unset it`,
    };
  return {
    status: "fail",
    item,
    message: `cannot reach ${urlVar} (${origin(url)})`,
    fix: `check ${urlVar} (or this machine's internet access), or unset ${tokenVar}`,
  };
}

const webex: PlatformCheck = {
  platform: "webex",
  configured: (s) => s.webex !== undefined,
  async check(s, ctx): Promise<Check[]> {
    const w = s.webex as NonNullable<ChatSettings["webex"]>;
    const url = w.apiUrl ?? DEFAULT_WEBEX_API;
    try {
      const me = await createWebexApi({
        token: w.token,
        apiUrl: url,
        maxRetries: 0,
        timeoutMs: ctx.timeoutMs,
      }).me();
      return [
        {
          status: "ok",
          item: "webex",
          message: `token accepted (${shown(me.displayName, [w.token, w.webhookSecret])})`,
        },
      ];
    } catch (err) {
      return [failed("webex", err, "WEBEX_BOT_TOKEN", "WEBEX_API_URL", url)];
    }
  },
};

function meta(platform: "messenger" | "instagram", tokenVar: string): PlatformCheck {
  return {
    platform,
    configured: (s) => s[platform] !== undefined,
    async check(s, ctx): Promise<Check[]> {
      const m = s[platform] as NonNullable<ChatSettings["messenger"]>;
      const url = m.apiUrl ?? DEFAULT_API_URL[platform];
      try {
        const me = await createGraphSendApi({
          token: m.token,
          apiUrl: url,
          maxRetries: 0,
          timeoutMs: ctx.timeoutMs,
        }).me();
        const who = shown(me.name, [m.token, m.appSecret, m.verifyToken]);
        return [{ status: "ok", item: platform, message: `token accepted (${who})` }];
      } catch (err) {
        return [failed(platform, err, tokenVar, `${platform.toUpperCase()}_API_URL`, url)];
      }
    },
  };
}

export const WEBEX_META_CHECKS: readonly PlatformCheck[] = [
  webex,
  meta("messenger", "MESSENGER_PAGE_TOKEN"),
  meta("instagram", "INSTAGRAM_ACCESS_TOKEN"),
];
