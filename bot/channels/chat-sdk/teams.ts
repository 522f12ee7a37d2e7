/**
 * Microsoft Teams through `@chat-adapter/teams` (an optionalDependency: large, so loaded only when
 * `TEAMS_APP_ID` + `TEAMS_APP_PASSWORD` are set). The only importer of the Teams adapter.
 *
 * - Outbound tokens: our own client-credentials call to the Entra ID token endpoint
 *   (`TEAMS_TOKEN_URL`, default login.microsoftonline.com for the tenant or botframework.com), handed
 *   to the adapter as its `token` factory, so the endpoint is redirectable and the password never
 *   reaches the Teams SDK. Token responses are untrusted: only a JWT-shaped `access_token` is used.
 * - Inbound: our listener verifies the Bot Framework JWT first (bot/webhooks/jwt-verifiers.ts); the
 *   SDK verifies it again against the same OpenID metadata (`TEAMS_OPENID_METADATA_URL`).
 * - Replies go to the activity's `serviceUrl`, which the JWT's `serviceurl` claim vouches for.
 */
import { ConsoleLogger } from "chat";
import { teamsVerifier } from "../../webhooks/jwt-verifiers.js";
import { plainMarkdownParts } from "../markdown-card.js";
import type { ChatSdkPlatform } from "./chat-sdk-channel.js";

export interface TeamsSettings {
  readonly appId: string;
  readonly appPassword: string;
  /** Single-tenant apps: `TEAMS_APP_TENANT_ID`. */
  readonly tenantId?: string;
  /** Connector base for proactive sends (`TEAMS_API_URL`); replies use the activity's serviceUrl. */
  readonly apiUrl?: string;
  /** `TEAMS_TOKEN_URL`: the OAuth token endpoint. */
  readonly tokenUrl?: string;
  /** `TEAMS_OPENID_METADATA_URL`: where the webhook JWT keys are published. */
  readonly openIdMetadataUrl?: string;
}

/**
 * Teams refuses a bot activity over ~28 KB (413 MessageSizeTooBig). Text parts start at 12,000
 * characters and are split smaller until each part's bytes fit (a CJK character is 3 bytes, an
 * emoji 4): splitting loses nothing, so no cut needs counting.
 */
const TEAMS_MAX_TEXT = 12_000;
const TEAMS_MAX_TEXT_BYTES = 24 * 1024;

export function teamsTextParts(text: string): string[] {
  for (let max = TEAMS_MAX_TEXT; ; max = Math.floor(max * 0.75)) {
    const parts = plainMarkdownParts(text, max);
    if (max < 400 || parts.every((p) => Buffer.byteLength(JSON.stringify(p)) <= TEAMS_MAX_TEXT_BYTES))
      return parts;
  }
}
const BOTFRAMEWORK_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration";

/** A client-credentials token source with a cache per scope, refreshed a minute before expiry. */
export function teamsTokenSource(s: TeamsSettings): (scope: string | string[]) => Promise<string> {
  const url =
    s.tokenUrl ??
    `https://login.microsoftonline.com/${encodeURIComponent(s.tenantId ?? "botframework.com")}/oauth2/v2.0/token`;
  const cache = new Map<string, { token: string; until: number }>();
  return async (scope) => {
    const want = Array.isArray(scope) ? scope.join(" ") : scope;
    const hit = cache.get(want);
    if (hit && hit.until > Date.now()) return hit.token;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: s.appId,
        client_secret: s.appPassword,
        scope: want,
      }),
      redirect: "error",
      signal: AbortSignal.timeout(15_000),
    });
    // Never quote the answer: an error page could echo what we sent.
    if (!res.ok) throw new Error(`Teams token endpoint answered ${res.status}`);
    const body = (await res.json().catch(() => undefined)) as
      | { access_token?: unknown; expires_in?: unknown }
      | undefined;
    const token = body?.access_token;
    if (typeof token !== "string" || !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token))
      throw new Error("Teams token endpoint gave no usable token");
    const life = typeof body?.expires_in === "number" ? body.expires_in : 3600;
    cache.set(want, { token, until: Date.now() + Math.max(0, life - 60) * 1000 });
    return token;
  };
}

export async function teamsPlatform(s: TeamsSettings): Promise<ChatSdkPlatform> {
  let mod: typeof import("@chat-adapter/teams");
  try {
    mod = await import("@chat-adapter/teams");
  } catch {
    throw new Error(
      "Teams needs the optional package @chat-adapter/teams (npm install @chat-adapter/teams@4.39.0)",
    );
  }
  const adapter = mod.createTeamsAdapter({
    appId: s.appId,
    // Not the password: the token factory below is the only thing that uses it.
    token: teamsTokenSource(s),
    ...(s.tenantId
      ? { appTenantId: s.tenantId, appType: "SingleTenant" as const }
      : { appType: "MultiTenant" as const }),
    apiUrl: s.apiUrl ?? "https://smba.trafficmanager.net/teams/",
    logger: new ConsoleLogger("silent"),
  });
  const metadata = s.openIdMetadataUrl ?? BOTFRAMEWORK_METADATA;
  // The SDK reads its JWKS location from the cloud settings when the Chat instance initialises.
  const app = (adapter as unknown as { app: { cloud: Record<string, unknown> } }).app;
  app.cloud = { ...app.cloud, openIdMetadataUrl: metadata };
  return {
    platform: "teams",
    adapter,
    verifier: teamsVerifier({ appId: s.appId, openIdMetadataUrl: metadata }),
    maxText: TEAMS_MAX_TEXT,
    textParts: teamsTextParts,
    // A person's Entra object id; the connector creates (or returns) the 1:1 conversation.
    openDm: async (userId) => {
      if (!/^[0-9a-f-]{36}$/i.test(userId)) throw new Error("not a Teams user id");
      return adapter.openDM(userId);
    },
    // Taps report the activity's serviceUrl, which ends in "/"; a chat we opened carries the SDK's
    // copy without it. Key a card as its taps will name it, or a tap on a DM card is "unknown".
    cardChatId: (_raw, chatId) => {
      const [tag, conv, url, ...rest] = chatId.split(":");
      const base = Buffer.from(url ?? "", "base64url").toString();
      if (tag !== "teams" || !conv || !base || base.endsWith("/")) return chatId;
      return [tag, conv, Buffer.from(`${base}/`).toString("base64url"), ...rest].join(":");
    },
  };
}
