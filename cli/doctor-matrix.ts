/**
 * `warden doctor` check for Matrix: GET /_matrix/client/v3/account/whoami on MATRIX_HOMESERVER_URL
 * with the access token (harmless, authenticated), and whether the account it names is
 * MATRIX_USER_ID. Untrusted: the homeserver's answer and the configured URL. The token never
 * reaches the output: failures are the Matrix errcode or the network error's code, and the user id
 * shown is checked to be plain and free of the token.
 */
import { z } from "zod";
import type { ChatSettings } from "./chat-channels.js";
import type { Check } from "./doctor-checks.js";
import type { PlatformCheck } from "./doctor-platforms.js";

const Whoami = z.object({ user_id: z.string().optional(), errcode: z.string().optional() });

const shown = (s: string, token: string): string =>
  /^@[\w.=/+-]{1,64}:[\w.:-]{1,100}$/.test(s) && !s.includes(token.slice(0, 8)) ? s : "(not shown)";

export const matrixCheck: PlatformCheck = {
  platform: "matrix",
  configured: (s) => s.matrix !== undefined,
  async check(s, ctx): Promise<Check[]> {
    const m = s.matrix as NonNullable<ChatSettings["matrix"]>;
    if (!m.accessToken)
      return [
        {
          status: "warn",
          item: "matrix",
          message: "MATRIX_ACCESS_TOKEN is not in the environment: the token is not checked here",
          fix: "set MATRIX_ACCESS_TOKEN, or keep it as the Warden secret MATRIX_ACCESS_TOKEN (warden start reads it)",
        },
      ];
    let url: URL;
    try {
      url = new URL(`${m.homeserverUrl.replace(/\/+$/, "")}/_matrix/client/v3/account/whoami`);
    } catch {
      return [
        {
          status: "fail",
          item: "matrix",
          message: "MATRIX_HOMESERVER_URL is not a URL",
          fix: "set it to https://your.homeserver",
        },
      ];
    }
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${m.accessToken}` },
        redirect: "error",
        signal: AbortSignal.timeout(ctx.timeoutMs ?? 10_000),
      });
    } catch (err) {
      const code = (err as { cause?: { code?: unknown } }).cause?.code;
      return [
        {
          status: "fail",
          item: "matrix",
          message: `cannot reach MATRIX_HOMESERVER_URL (${url.origin}): ${typeof code === "string" ? code : (err as Error).name}`,
          fix: "check MATRIX_HOMESERVER_URL (the client API base, as in Element's settings)",
        },
      ];
    }
    const text = (await res.text().catch(() => "")).slice(0, 64 * 1024);
    let body: z.infer<typeof Whoami> = {};
    try {
      body = Whoami.parse(JSON.parse(text));
    } catch {
      // judged on the status below
    }
    if (!res.ok || !body.user_id) {
      const why = body.errcode && /^M_[A-Z_]{1,40}$/.test(body.errcode) ? body.errcode : `HTTP ${res.status}`;
      return [
        {
          status: "fail",
          item: "matrix",
          message: `the token in MATRIX_ACCESS_TOKEN was refused: ${why}`,
          fix: "put the bot account's access token in MATRIX_ACCESS_TOKEN (Element: Settings → Help & About → Access token)",
        },
      ];
    }
    if (body.user_id !== m.userId)
      return [
        {
          status: "fail",
          item: "matrix",
          message: `the token belongs to ${shown(body.user_id, m.accessToken)}, not MATRIX_USER_ID (${shown(m.userId, m.accessToken)})`,
          fix: "set MATRIX_USER_ID to the bot account the token belongs to",
        },
      ];
    return [
      { status: "ok", item: "matrix", message: `token accepted (${shown(body.user_id, m.accessToken)})` },
    ];
  },
};
