/**
 * Which Chat SDK platforms run, from their settings (read from the environment in cli/warden.ts
 * under the adapters' own names), each with its adapter pointed at its API base and its webhook
 * verifier. Every adapter's own logging is silenced (it would print request details); the adapters
 * still verify signatures themselves, behind our listener's check.
 */
import { createGitHubAdapter } from "@chat-adapter/github";
import { createLinearAdapter } from "@chat-adapter/linear";
import { createWhatsAppAdapter } from "@chat-adapter/whatsapp";
import { ConsoleLogger } from "chat";
import { githubVerifier, linearVerifier, whatsappCloudVerifier } from "../../webhooks/hmac-verifiers.js";
import type { ChatSdkPlatform } from "./chat-sdk-channel.js";
import { type WaTemplate, type WaWindowStore, withWhatsAppWindow } from "./wacloud-window.js";
import { type GoogleChatSettings, gchatPlatform } from "./gchat.js";
import { type TeamsSettings, teamsPlatform } from "./teams.js";

export interface ChatSdkSettings {
  /** `TEAMS_APP_ID` + `TEAMS_APP_PASSWORD` [+ `TEAMS_APP_TENANT_ID`] (Teams adapter is optional). */
  readonly teams?: TeamsSettings;
  /** `GOOGLE_CHAT_CREDENTIALS` + `GOOGLE_CHAT_PROJECT_NUMBER` (+ `GOOGLE_CHAT_API_URL`, `GOOGLE_CHAT_CERTS_URL`). */
  readonly gchat?: GoogleChatSettings;
  /** `GITHUB_TOKEN` (or an App: `GITHUB_APP_ID` + `GITHUB_PRIVATE_KEY` [+ `GITHUB_INSTALLATION_ID`]). */
  readonly github?: {
    readonly webhookSecret: string;
    readonly token?: string;
    readonly appId?: string;
    readonly privateKey?: string;
    readonly installationId?: number;
    readonly apiUrl?: string;
    readonly userName?: string;
  };
  /** `LINEAR_API_KEY` + `LINEAR_WEBHOOK_SECRET` (+ `LINEAR_API_URL`, the full GraphQL URL). */
  readonly linear?: { readonly apiKey: string; readonly webhookSecret: string; readonly apiUrl?: string };
  /** WhatsApp Business (Cloud API): `WHATSAPP_ACCESS_TOKEN` + `WHATSAPP_APP_SECRET` + `WHATSAPP_PHONE_NUMBER_ID` + `WHATSAPP_VERIFY_TOKEN`. */
  readonly wacloud?: {
    readonly accessToken: string;
    readonly appSecret: string;
    readonly phoneNumberId: string;
    readonly verifyToken: string;
    readonly apiUrl?: string;
    /** `WHATSAPP_CARD_TEMPLATE`: sent instead of a card outside the 24-hour window. */
    readonly cardTemplate?: WaTemplate;
  };
}

/** State the platforms keep across restarts (the bot's store: bot/persisted-state.ts). */
export interface ChatSdkState {
  /** WhatsApp Cloud's 24-hour windows; without it the window is not tracked (the API still refuses). */
  readonly waWindow?: WaWindowStore;
}

/** GitHub comments are capped at 65,536 characters; Linear's are long too: keep well under. */
const GITHUB_MAX = 60_000;
const LINEAR_MAX = 50_000;

const silent = () => new ConsoleLogger("silent");

/** The configured platforms' adapters (Teams' optional package is loaded only when configured). */
export async function chatSdkPlatforms(
  s: ChatSdkSettings,
  state: ChatSdkState = {},
): Promise<ChatSdkPlatform[]> {
  const out: ChatSdkPlatform[] = [];
  if (s.teams) out.push(await teamsPlatform(s.teams));
  if (s.gchat) out.push(gchatPlatform(s.gchat));
  if (s.github) {
    const g = s.github;
    const base = { webhookSecret: g.webhookSecret, apiUrl: g.apiUrl, userName: g.userName, logger: silent() };
    let adapter: ReturnType<typeof createGitHubAdapter>;
    if (g.token) adapter = createGitHubAdapter({ ...base, token: g.token });
    else if (g.appId && g.privateKey)
      adapter = createGitHubAdapter({
        ...base,
        appId: g.appId,
        privateKey: g.privateKey,
        ...(g.installationId ? { installationId: g.installationId } : {}),
      } as Parameters<typeof createGitHubAdapter>[0]);
    else throw new Error("GitHub needs GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_PRIVATE_KEY");
    out.push({ platform: "github", adapter, verifier: githubVerifier(g.webhookSecret), maxText: GITHUB_MAX });
  }
  if (s.linear) {
    const l = s.linear;
    const adapter = createLinearAdapter({
      apiKey: l.apiKey,
      webhookSecret: l.webhookSecret,
      apiUrl: l.apiUrl,
      mode: "comments",
      logger: silent(),
    });
    out.push({ platform: "linear", adapter, verifier: linearVerifier(l.webhookSecret), maxText: LINEAR_MAX });
  }
  if (s.wacloud) {
    const w = s.wacloud;
    const adapter = createWhatsAppAdapter({
      accessToken: w.accessToken,
      appSecret: w.appSecret,
      phoneNumberId: w.phoneNumberId,
      verifyToken: w.verifyToken,
      apiUrl: w.apiUrl,
      logger: silent(),
    });
    const store = state.waWindow;
    out.push({
      platform: "wacloud",
      adapter,
      verifier: whatsappCloudVerifier(w.appSecret, w.verifyToken),
      maxText: 4000,
      // Digits only: a user id is a phone number; anything else would address another thread.
      dm: (userId) =>
        adapter.encodeThreadId({ phoneNumberId: w.phoneNumberId, userWaId: userId.replace(/\D/g, "") }),
      // Free-form messages only within 24 h of the person's last message (wacloud-window.ts).
      wrap: store
        ? (c, log) =>
            withWhatsAppWindow(c, {
              store,
              template: w.cardTemplate,
              log,
              userOf: (threadId) => {
                const { phoneNumberId, userWaId } = adapter.decodeThreadId(threadId);
                if (phoneNumberId !== w.phoneNumberId || !/^\d{4,20}$/.test(userWaId))
                  throw new Error("not a WhatsApp Cloud chat of this number");
                return userWaId;
              },
              sendTemplate: async (threadId, t) =>
                (await adapter.sendTemplate(threadId, { name: t.name, language: t.language })).id,
            })
        : undefined,
    });
  }
  return out;
}
