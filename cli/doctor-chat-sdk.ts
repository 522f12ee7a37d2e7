/**
 * `warden doctor` checks for the webhook platforms behind the Chat SDK (Teams, Google Chat, GitHub,
 * Linear, WhatsApp Cloud): settings present or only partly set, one harmless authenticated call per
 * platform against its API base (Teams: a client-credentials token; Google Chat: the service
 * account's JWT-bearer grant at its token_uri; GitHub: GET /user, or GET /app with an App JWT;
 * Linear: the viewer query; WhatsApp: GET the phone number), and where the platforms must reach the
 * webhook listener (WARDEN_PUBLIC_URL). Untrusted: every answer and the configured API bases. A
 * secret never reaches the output: failures are codes, and a platform's words are shown only when
 * short, plain and sharing nothing with a secret.
 */
import { createSign } from "node:crypto";
import { z } from "zod";
import { googleTokenSource, parseGoogleCredentials } from "../bot/channels/chat-sdk/gchat.js";
import { teamsTokenSource } from "../bot/channels/chat-sdk/teams.js";
import type { ChatSettings } from "./chat-channels.js";
import type { Check } from "./doctor-checks.js";
import {
  type CallResult,
  origin,
  plain,
  type PlatformCheck,
  type PlatformContext,
  worded as sharedWorded,
} from "./doctor-platforms.js";

type Sdk = NonNullable<ChatSettings["chatSdk"]>;
type Outcome = { ok: true; who: string } | { ok: false; why: string; reached: boolean };

/** Why a request never got an answer: the cause's code, else its words if plain (never the URL). */
function unreachable(err: unknown): Outcome {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  const words = typeof cause?.message === "string" ? plain(cause.message, []) : "(not shown)";
  const why =
    typeof cause?.code === "string"
      ? cause.code
      : words !== "(not shown)"
        ? words
        : ((err as Error).name ?? "Error");
  return { ok: false, reached: false, why };
}

/** One GET/POST with a secret; no redirects; the answer parsed with `schema` and judged. */
async function ask<T>(
  url: string,
  init: RequestInit,
  schema: z.ZodType<T>,
  ctx: PlatformContext,
  judge: (status: number, body: T | undefined) => Outcome,
): Promise<Outcome> {
  let res: Response;
  try {
    res = await fetch(url, {
      ...init,
      redirect: "error",
      signal: AbortSignal.timeout(ctx.timeoutMs ?? 10_000),
    });
  } catch (err) {
    return unreachable(err);
  }
  const text = (await res.text().catch(() => "")).slice(0, 64 * 1024);
  let body: T | undefined;
  try {
    const r = schema.safeParse(JSON.parse(text));
    body = r.success ? r.data : undefined;
  } catch {
    body = undefined;
  }
  return judge(res.status, body);
}

/** Our own token sources (the ones `warden start` uses) say only codes; fetch errors carry a cause. */
async function viaSource(run: () => Promise<unknown>, who: string): Promise<Outcome> {
  try {
    await run();
    return { ok: true, who };
  } catch (err) {
    if ((err as { cause?: unknown }).cause !== undefined || (err as Error).name !== "Error")
      return unreachable(err);
    return { ok: false, reached: true, why: (err as Error).message };
  }
}

/** The shared check line (doctor-platforms.ts), worded for credentials rather than one token. */
function worded(
  item: string,
  r: Outcome,
  secretVars: string,
  base: string | undefined,
  baseVar: string,
): Check {
  const result: CallResult = r.ok
    ? { kind: "ok", who: r.who }
    : { kind: r.reached ? "refused" : "unreachable", why: r.why };
  return sharedWorded(item, result, secretVars, baseVar, base, "credentials");
}

const ErrorAnswer = z.object({ message: z.string().optional(), error: z.unknown().optional() }).passthrough();

const teams: PlatformCheck = {
  platform: "teams",
  configured: (s) => s.chatSdk?.teams !== undefined,
  async check(s) {
    const t = (s.chatSdk as Sdk).teams as NonNullable<Sdk["teams"]>;
    const r = await viaSource(
      () => teamsTokenSource(t)("https://api.botframework.com/.default"),
      `app ${t.appId}`,
    );
    return [worded("teams", r, "TEAMS_APP_ID / TEAMS_APP_PASSWORD", t.tokenUrl, "TEAMS_TOKEN_URL")];
  },
};

const gchat: PlatformCheck = {
  platform: "gchat",
  configured: (s) => s.chatSdk?.gchat !== undefined,
  async check(s) {
    const g = (s.chatSdk as Sdk).gchat as NonNullable<Sdk["gchat"]>;
    let creds: ReturnType<typeof parseGoogleCredentials>;
    try {
      creds = parseGoogleCredentials(g.credentials);
    } catch (err) {
      // Our own words, never the JSON (it holds the private key).
      return [
        {
          status: "fail",
          item: "gchat",
          message: (err as Error).message,
          fix: "paste the service account's JSON key file contents into GOOGLE_CHAT_CREDENTIALS",
        },
      ];
    }
    const r = await viaSource(googleTokenSource(creds), plain(creds.client_email, [g.credentials]));
    return [worded("gchat", r, "GOOGLE_CHAT_CREDENTIALS", creds.token_uri, "its token_uri")];
  },
};

const GitHubUser = z.object({ login: z.string().optional(), slug: z.string().optional() }).passthrough();

/** A GitHub App's own JWT (RS256, 9 minutes), as GitHub documents it. */
function appJwt(appId: string, pem: string): string | undefined {
  const b = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b({ alg: "RS256", typ: "JWT" })}.${b({ iat: now - 60, exp: now + 540, iss: appId })}`;
  try {
    return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(pem, "base64url")}`;
  } catch {
    return undefined;
  }
}

const github: PlatformCheck = {
  platform: "github",
  configured: (s) => s.chatSdk?.github !== undefined,
  async check(s, ctx) {
    const g = (s.chatSdk as Sdk).github as NonNullable<Sdk["github"]>;
    const base = (g.apiUrl ?? "https://api.github.com").replace(/\/+$/, "");
    const secrets = [g.token ?? "", g.privateKey ?? "", g.webhookSecret];
    const vars = g.token ? "GITHUB_TOKEN" : "GITHUB_APP_ID / GITHUB_PRIVATE_KEY";
    let bearer = g.token;
    if (!bearer) {
      bearer = g.privateKey && g.appId ? appJwt(g.appId, g.privateKey) : undefined;
      if (!bearer)
        return [
          {
            status: "fail",
            item: "github",
            message: "GITHUB_PRIVATE_KEY is missing or not a PEM RSA private key",
            fix: "paste the App's private key (.pem contents) into GITHUB_PRIVATE_KEY, or use GITHUB_TOKEN",
          },
        ];
    }
    const r = await ask(
      `${base}/${g.token ? "user" : "app"}`,
      {
        headers: {
          authorization: `Bearer ${bearer}`,
          accept: "application/vnd.github+json",
          "user-agent": "warden-doctor",
        },
      },
      GitHubUser.or(ErrorAnswer),
      ctx,
      (status, b) => {
        const who =
          (b as z.infer<typeof GitHubUser> | undefined)?.login ??
          (b as z.infer<typeof GitHubUser> | undefined)?.slug;
        if (status === 200 && who) return { ok: true, who: plain(who, secrets) };
        const words =
          typeof (b as { message?: unknown })?.message === "string" ? (b as { message: string }).message : "";
        return { ok: false, reached: true, why: words ? plain(words, secrets) : `HTTP ${status}` };
      },
    );
    return [worded("github", r, vars, g.apiUrl, "GITHUB_API_URL")];
  },
};

const LinearAnswer = z.object({
  data: z
    .object({ viewer: z.object({ name: z.string().optional(), id: z.string() }) })
    .optional()
    .nullable(),
  errors: z.array(z.object({ message: z.string().optional() }).passthrough()).optional(),
});

const linear: PlatformCheck = {
  platform: "linear",
  configured: (s) => s.chatSdk?.linear !== undefined,
  async check(s, ctx) {
    const l = (s.chatSdk as Sdk).linear as NonNullable<Sdk["linear"]>;
    const secrets = [l.apiKey, l.webhookSecret];
    const r = await ask(
      l.apiUrl ?? "https://api.linear.app/graphql",
      {
        method: "POST",
        // Linear takes a personal API key bare, without "Bearer".
        headers: { authorization: l.apiKey, "content-type": "application/json" },
        body: JSON.stringify({ query: "query WardenDoctor { viewer { id name } }" }),
      },
      LinearAnswer,
      ctx,
      (status, b) =>
        status === 200 && b?.data?.viewer
          ? { ok: true, who: plain(b.data.viewer.name ?? b.data.viewer.id, secrets) }
          : { ok: false, reached: true, why: plain(b?.errors?.[0]?.message ?? `HTTP ${status}`, secrets) },
    );
    return [worded("linear", r, "LINEAR_API_KEY", l.apiUrl, "LINEAR_API_URL")];
  },
};

const PhoneAnswer = z.object({
  display_phone_number: z.string().optional(),
  verified_name: z.string().optional(),
  error: z.object({ code: z.number().optional(), message: z.string().optional() }).passthrough().optional(),
});

const wacloud: PlatformCheck = {
  platform: "wacloud",
  configured: (s) => s.chatSdk?.wacloud !== undefined,
  async check(s, ctx) {
    const w = (s.chatSdk as Sdk).wacloud as NonNullable<Sdk["wacloud"]>;
    const base = (w.apiUrl ?? "https://graph.facebook.com").replace(/\/+$/, "");
    const secrets = [w.accessToken, w.appSecret, w.verifyToken];
    const r = await ask(
      `${base}/v25.0/${encodeURIComponent(w.phoneNumberId)}?fields=display_phone_number,verified_name`,
      { headers: { authorization: `Bearer ${w.accessToken}` } },
      PhoneAnswer,
      ctx,
      (status, b) =>
        status === 200 && (b?.display_phone_number || b?.verified_name)
          ? {
              ok: true,
              who: plain(`${b.verified_name ?? ""} ${b.display_phone_number ?? ""}`.trim(), secrets),
            }
          : {
              ok: false,
              reached: true,
              why: b?.error?.code !== undefined ? `Graph error ${b.error.code}` : `HTTP ${status}`,
            },
    );
    const out = [
      worded("wacloud", r, "WHATSAPP_ACCESS_TOKEN / WHATSAPP_PHONE_NUMBER_ID", w.apiUrl, "WHATSAPP_API_URL"),
    ];
    out.push(
      w.cardTemplate
        ? {
            status: "ok",
            item: "wacloud window",
            message: `outside the 24-hour window cards wait behind the template ${w.cardTemplate.name} (${w.cardTemplate.language})`,
          }
        : {
            status: "warn",
            item: "wacloud window",
            message:
              "WHATSAPP_CARD_TEMPLATE is not set: a card for someone who has not written in 24 hours cannot be sent (the request is refused)",
            fix: "create a utility template in Meta's WhatsApp Manager (README: WhatsApp Business) and set WHATSAPP_CARD_TEMPLATE=name[:language]",
          },
    );
    return out;
  },
};

/** Where the platforms must reach the listener, and settings only partly given. */
const webhooks: PlatformCheck = {
  platform: "webhooks",
  configured: (s) =>
    s.chatSdk !== undefined && (anyWebhookPlatform(s.chatSdk) || (s.chatSdk.partial?.length ?? 0) > 0),
  async check(s) {
    const sdk = s.chatSdk as Sdk;
    const out: Check[] = (sdk.partial ?? []).map((p) => ({
      status: "fail",
      item: p.platform,
      message: `only partly configured: ${p.missing.join(", ")} ${p.missing.length === 1 ? "is" : "are"} not set`,
      fix: `set ${p.missing.join(" and ")}, or unset the other ${p.platform} settings`,
    }));
    if (!anyWebhookPlatform(sdk)) return out;
    const listen = `${sdk.webhooks.host}:${sdk.webhooks.port}`;
    const pub = sdk.publicUrl;
    if (!pub)
      out.push({
        status: "warn",
        item: "webhooks",
        message: `listening on ${listen}, but WARDEN_PUBLIC_URL is not set: the platforms cannot reach it`,
        fix: "expose the listener over HTTPS (a reverse proxy or tunnel) and set WARDEN_PUBLIC_URL=https://your.host",
      });
    else if (!/^https:\/\//.test(pub))
      out.push({
        status: "warn",
        item: "webhooks",
        message: `WARDEN_PUBLIC_URL (${origin(pub)}) is not https: Teams, Google Chat and Meta call only HTTPS endpoints`,
        fix: "put TLS in front of the listener (reverse proxy or tunnel) and use its https:// address",
      });
    else
      out.push({
        status: "ok",
        item: "webhooks",
        message: `platforms call ${origin(pub)}/webhooks/<platform>; the listener is on ${listen}`,
      });
    return out;
  },
};

function anyWebhookPlatform(sdk: Sdk): boolean {
  return !!(sdk.teams || sdk.gchat || sdk.github || sdk.linear || sdk.wacloud);
}

/** The Chat SDK platforms' entries, in report order (cli/doctor-platforms.ts lists them). */
export const CHAT_SDK_CHECKS: readonly PlatformCheck[] = [teams, gchat, github, linear, wacloud, webhooks];
