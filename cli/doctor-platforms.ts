/**
 * The chat-platform checks of `warden doctor`: for each configured platform, one harmless
 * authenticated call (Telegram getMe, Slack auth.test, Discord GET /users/@me) or, for WhatsApp
 * Web, the paired auth state in the store (cli/doctor-whatsapp.ts). Untrusted: the platform's
 * answer (any status, any body) and the configured API roots. A token never reaches the output: errors are reduced to a code, and
 * the platform's own words are shown only when short, plain and free of the token.
 *
 * The seam: `PLATFORM_CHECKS` holds one entry per platform; a platform added to `ChatSettings`
 * (e.g. the Chat SDK webhook platforms) adds its entry here and nothing else changes.
 */
import { z } from "zod";
import { checkEmail } from "../bot/channels/email/index.js";
import type { ChatSettings } from "./chat-channels.js";
import { CHAT_SDK_CHECKS } from "./doctor-chat-sdk.js";
import { matrixCheck } from "./doctor-matrix.js";
import { WEBEX_META_CHECKS } from "./doctor-webex-meta.js";
import { whatsappCheck } from "./doctor-whatsapp.js";
import { X_IMESSAGE_CHECKS } from "./doctor-x-imessage.js";
import type { Check } from "./doctor-checks.js";

export interface PlatformContext {
  readonly home: string;
  /** WARDEN_DATABASE_URL (WhatsApp Web's pairing is in the store). */
  readonly databaseUrl?: string;
  /** WARDEN_MASTER_KEY, to open the stored WhatsApp pairing as start would; never printed. */
  readonly masterKey?: string;
  /** Per call; default 10 s. */
  readonly timeoutMs?: number;
}

export interface PlatformCheck {
  readonly platform: string;
  /** Whether the settings switch this platform on (only those are checked). */
  configured(s: ChatSettings): boolean;
  check(s: ChatSettings, ctx: PlatformContext): Promise<Check[]>;
}

/** The outcome of one authenticated call, before it is worded as a `Check`. */
export type CallResult =
  | { readonly kind: "ok"; readonly who: string }
  | { readonly kind: "refused"; readonly why: string }
  | { readonly kind: "unreachable"; readonly why: string };

const TelegramAnswer = z.object({
  ok: z.boolean(),
  result: z.object({ username: z.string().optional() }).passthrough().optional(),
  description: z.string().optional(),
});
const SlackAnswer = z.object({
  ok: z.boolean(),
  user: z.string().optional(),
  team: z.string().optional(),
  error: z.string().optional(),
});
const DiscordAnswer = z.object({ username: z.string().optional(), message: z.string().optional() });

/**
 * One request with the token; follows no redirect (a redirect is refused: the call is to the
 * configured API only). `secrets` are what must never be echoed back into our output.
 */
async function call<T>(
  url: string,
  init: RequestInit,
  schema: z.ZodType<T>,
  secrets: readonly string[],
  ctx: PlatformContext,
  judge: (status: number, body: T) => CallResult,
): Promise<CallResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      redirect: "error",
      signal: AbortSignal.timeout(ctx.timeoutMs ?? 10_000),
    });
  } catch (err) {
    // The code, else the cause's words only if plain (undici quotes URLs, Telegram's holds the token).
    const e = err as { name?: string; cause?: { code?: unknown; message?: unknown } };
    const words = typeof e.cause?.message === "string" ? plain(e.cause.message, secrets) : "(not shown)";
    const why =
      typeof e.cause?.code === "string"
        ? e.cause.code
        : words !== "(not shown)"
          ? words
          : (e.name ?? "Error");
    return { kind: "unreachable", why };
  }
  const text = await boundedText(res, 64 * 1024);
  let parsed: T | undefined;
  try {
    const r = schema.safeParse(JSON.parse(text));
    parsed = r.success ? r.data : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined) return { kind: "refused", why: `HTTP ${res.status}, not the platform's JSON` };
  const out = judge(res.status, parsed);
  return out.kind === "ok"
    ? { ...out, who: plain(out.who, secrets) }
    : { ...out, why: plain(out.why, secrets) };
}

/** The body up to `max` bytes (an answer to getMe is tiny; a hostile server may send gigabytes). */
async function boundedText(res: Response, max: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const c of res.body ?? []) {
      chunks.push(c);
      size += c.byteLength;
      if (size > max) break;
    }
  } catch {
    // a body cut short is judged on what arrived
  }
  return Buffer.concat(chunks).subarray(0, max).toString("utf8");
}

/**
 * Platform-supplied words, shown only if short, printable and sharing no 8 characters in a row
 * with any of `secrets` (a server may echo part of a token, e.g. Telegram's after the colon).
 */
export function plain(s: string, secrets: readonly string[]): string {
  if (!/^[\w .:@'()/-]{1,80}$/.test(s)) return "(not shown)";
  const W = 8;
  for (const t of secrets)
    for (let i = 0; i + W <= t.length; i++) if (s.includes(t.slice(i, i + W))) return "(not shown)";
  return s;
}

/**
 * A platform call's result as a check line (shared by every platform's doctor check): what was
 * accepted, refused (the `secret` settings are wrong) or unreachable (the API base is).
 */
export function worded(
  item: string,
  r: CallResult,
  secretVars: string,
  baseVar: string,
  base: string | undefined,
  noun: "token" | "credentials" = "token",
): Check {
  if (r.kind === "ok") return { status: "ok", item, message: `${noun} accepted (${r.who})` };
  if (r.kind === "refused")
    return noun === "token"
      ? {
          status: "fail",
          item,
          message: `the token in ${secretVars} was refused: ${r.why}`,
          fix: `put a valid token in ${secretVars} (the one the platform issued for this bot), or unset it`,
        }
      : {
          status: "fail",
          item,
          message: `the credentials in ${secretVars} were refused: ${r.why}`,
          fix: `put the values the platform issued for this bot in ${secretVars}`,
        };
  return {
    status: "fail",
    item,
    message: `cannot reach ${base ? `${baseVar} (${origin(base)})` : "the platform"}: ${r.why}`,
    fix: base ? `check ${baseVar} or unset it` : "check this machine's internet access and proxy settings",
  };
}

export const origin = (url: string): string => {
  try {
    return new URL(url).origin;
  } catch {
    return "not a URL";
  }
};

const telegram: PlatformCheck = {
  platform: "telegram",
  configured: (s) => s.telegram !== undefined,
  async check(s, ctx) {
    const { token, apiRoot } = s.telegram as NonNullable<ChatSettings["telegram"]>;
    const root = (apiRoot ?? "https://api.telegram.org").replace(/\/+$/, "");
    const r = await call(
      `${root}/bot${token}/getMe`,
      { method: "POST" },
      TelegramAnswer,
      [token],
      ctx,
      (status, b) =>
        b.ok && status === 200
          ? { kind: "ok", who: `@${b.result?.username ?? "?"}` }
          : { kind: "refused", why: b.description ?? `HTTP ${status}` },
    );
    return [worded("telegram", r, "TELEGRAM_BOT_TOKEN", "TELEGRAM_API_ROOT", apiRoot)];
  },
};

const slack: PlatformCheck = {
  platform: "slack",
  configured: (s) => s.slack !== undefined,
  async check(s, ctx) {
    const { botToken, appToken, signingSecret, apiUrl } = s.slack as NonNullable<ChatSettings["slack"]>;
    const root = (apiUrl ?? "https://slack.com/api/").replace(/\/*$/, "/");
    const secrets = [botToken, appToken ?? "", signingSecret ?? ""];
    const slackCall = (method: string, token: string) =>
      call(
        `${root}${method}`,
        {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
        },
        SlackAnswer,
        secrets,
        ctx,
        (status, b) =>
          b.ok
            ? { kind: "ok", who: `${b.user ?? "bot"} in ${b.team ?? "its workspace"}` }
            : { kind: "refused", why: b.error ?? `HTTP ${status}` },
      );
    const out = [
      worded("slack", await slackCall("auth.test", botToken), "SLACK_BOT_TOKEN", "SLACK_API_URL", apiUrl),
    ];
    if (appToken) {
      // Asking for a Socket Mode URL is harmless: nothing connects to it.
      const r = await slackCall("apps.connections.open", appToken);
      out.push(
        worded(
          "slack app",
          r.kind === "ok" ? { kind: "ok", who: "Socket Mode" } : r,
          "SLACK_APP_TOKEN",
          "SLACK_API_URL",
          apiUrl,
        ),
      );
    } else if (!signingSecret)
      out.push({
        status: "fail",
        item: "slack app",
        message: "neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is set",
        fix: "set SLACK_APP_TOKEN (Socket Mode, xapp-…) or SLACK_SIGNING_SECRET (HTTP mode)",
      });
    return out;
  },
};

const discord: PlatformCheck = {
  platform: "discord",
  configured: (s) => s.discord !== undefined,
  async check(s, ctx) {
    const { token, apiUrl } = s.discord as NonNullable<ChatSettings["discord"]>;
    const root = (apiUrl ?? "https://discord.com/api").replace(/\/+$/, "");
    const r = await call(
      `${root}/v10/users/@me`,
      { headers: { authorization: `Bot ${token}` } },
      DiscordAnswer,
      [token],
      ctx,
      (status, b) =>
        status === 200 && b.username
          ? { kind: "ok", who: b.username }
          : { kind: "refused", why: b.message ?? `HTTP ${status}` },
    );
    return [worded("discord", r, "DISCORD_BOT_TOKEN", "DISCORD_API_URL", apiUrl)];
  },
};

/**
 * Email: an IMAP login (INBOX opened) and an SMTP login, through the channel's own libraries
 * (bot/channels/email/email-check.ts: codes only, never the server's words or the password).
 */
const email: PlatformCheck = {
  platform: "email",
  configured: (s) => s.email !== undefined,
  async check(s, ctx) {
    const e = s.email as NonNullable<ChatSettings["email"]>;
    if (!e.password)
      return [
        {
          status: "warn",
          item: "email",
          message: "EMAIL_PASSWORD is not in the environment: login not checked here",
          fix: "set EMAIL_PASSWORD, or keep it as the Warden secret EMAIL_PASSWORD (warden start reads it)",
        },
      ];
    const results = await checkEmail({ ...e, password: e.password }, ctx.timeoutMs);
    return results.map((r) =>
      r.ok
        ? { status: "ok", item: `email ${r.what}`, message: r.detail }
        : {
            status: "fail",
            item: `email ${r.what}`,
            message: r.detail,
            fix:
              r.what === "settings"
                ? "check EMAIL_IMAP_URL, EMAIL_SMTP_URL and EMAIL_ADDRESS (README: Email)"
                : `check the ${r.what.toUpperCase()} URL and EMAIL_PASSWORD (Gmail and Microsoft 365 need an app password)`,
          },
    );
  },
};

/** One entry per platform, in report order. */
export const PLATFORM_CHECKS: readonly PlatformCheck[] = [
  telegram,
  slack,
  discord,
  whatsappCheck,
  email,
  matrixCheck,
  // Teams, Google Chat, GitHub, Linear, WhatsApp Cloud and the webhook listener's public address.
  ...CHAT_SDK_CHECKS,
  // Webex, Messenger and Instagram: one authenticated call each.
  ...WEBEX_META_CHECKS,
  // X DMs and iMessage (BlueBubbles): one authenticated call each.
  ...X_IMESSAGE_CHECKS,
];

/** Runs the checks of every configured platform (in parallel, reported in order). */
export async function checkPlatforms(s: ChatSettings, ctx: PlatformContext): Promise<Check[]> {
  const on = PLATFORM_CHECKS.filter((p) => p.configured(s));
  if (on.length === 0)
    return [{ status: "ok", item: "chat", message: "web chat only (no platform tokens set)" }];
  return (await Promise.all(on.map((p) => p.check(s, ctx)))).flat();
}
