/**
 * The chat platforms switched on by the environment, each under its SDK's or platform's own setting
 * names (README's platform table). `warden start` and `warden doctor` read the same settings. A
 * platform is on when its required settings are all present; partial settings are reported by
 * `warden doctor`.
 */
import { parseWaTemplate } from "../bot/channels/chat-sdk/index.js";
import { hostPort } from "./args.js";
import type { ChatSettings } from "./chat-channels.js";
import { metaSettingsFrom } from "./webex-meta-channels.js";

/** Each webhook platform's required settings (any one of a group will do: `A|B`). */
const CHAT_SDK_REQUIRED: Readonly<Record<string, readonly string[]>> = {
  teams: ["TEAMS_APP_ID", "TEAMS_APP_PASSWORD"],
  gchat: ["GOOGLE_CHAT_CREDENTIALS", "GOOGLE_CHAT_PROJECT_NUMBER"],
  github: ["GITHUB_WEBHOOK_SECRET", "GITHUB_TOKEN|GITHUB_APP_ID"],
  linear: ["LINEAR_API_KEY", "LINEAR_WEBHOOK_SECRET"],
  wacloud: [
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_VERIFY_TOKEN",
  ],
  webex: ["WEBEX_BOT_TOKEN", "WEBEX_WEBHOOK_SECRET"],
  messenger: ["MESSENGER_PAGE_TOKEN", "MESSENGER_APP_SECRET", "MESSENGER_VERIFY_TOKEN"],
  instagram: ["INSTAGRAM_ACCESS_TOKEN", "INSTAGRAM_APP_SECRET", "INSTAGRAM_VERIFY_TOKEN"],
};

/** Webhook platforms with some but not all required settings, and what is missing (names only). */
function partialChatSdk(env: NodeJS.ProcessEnv): { platform: string; missing: string[] }[] {
  const out: { platform: string; missing: string[] }[] = [];
  for (const [platform, required] of Object.entries(CHAT_SDK_REQUIRED)) {
    const has = (group: string) => group.split("|").some((k) => !!env[k]);
    const missing = required.filter((g) => !has(g)).map((g) => g.replace("|", " or "));
    if (missing.length > 0 && missing.length < required.length) out.push({ platform, missing });
  }
  return out;
}

export function chatSettings(env: NodeJS.ProcessEnv): ChatSettings {
  return {
    telegram: env.TELEGRAM_BOT_TOKEN
      ? { token: env.TELEGRAM_BOT_TOKEN, apiRoot: env.TELEGRAM_API_ROOT }
      : undefined,
    slack: env.SLACK_BOT_TOKEN
      ? {
          botToken: env.SLACK_BOT_TOKEN,
          appToken: env.SLACK_APP_TOKEN,
          signingSecret: env.SLACK_SIGNING_SECRET,
          apiUrl: env.SLACK_API_URL,
          http: env.SLACK_HTTP ? hostPort(env.SLACK_HTTP, "SLACK_HTTP") : undefined,
        }
      : undefined,
    discord: env.DISCORD_BOT_TOKEN
      ? { token: env.DISCORD_BOT_TOKEN, apiUrl: env.DISCORD_API_URL }
      : undefined,
    webex:
      env.WEBEX_BOT_TOKEN && env.WEBEX_WEBHOOK_SECRET
        ? { token: env.WEBEX_BOT_TOKEN, webhookSecret: env.WEBEX_WEBHOOK_SECRET, apiUrl: env.WEBEX_API_URL }
        : undefined,
    messenger: metaSettingsFrom(env, "MESSENGER", "PAGE_TOKEN"),
    instagram: metaSettingsFrom(env, "INSTAGRAM", "ACCESS_TOKEN"),
    // Matrix: on with the homeserver and the bot's user id; MATRIX_ACCESS_TOKEN from env, else the Warden secret.
    matrix:
      env.MATRIX_HOMESERVER_URL && env.MATRIX_USER_ID
        ? {
            homeserverUrl: env.MATRIX_HOMESERVER_URL,
            userId: env.MATRIX_USER_ID,
            accessToken: env.MATRIX_ACCESS_TOKEN || undefined,
          }
        : undefined,
    whatsapp:
      env.WHATSAPP === "1" || env.WHATSAPP === "true"
        ? { ...(env.WHATSAPP_WS_URL ? { wsUrl: env.WHATSAPP_WS_URL } : {}) }
        : undefined,
    x:
      env.X_API_KEY && env.X_API_SECRET && env.X_ACCESS_TOKEN && env.X_ACCESS_SECRET
        ? {
            appKey: env.X_API_KEY,
            appSecret: env.X_API_SECRET,
            accessToken: env.X_ACCESS_TOKEN,
            accessSecret: env.X_ACCESS_SECRET,
            apiUrl: env.X_API_URL,
            pollMs: env.X_POLL_MS ? Math.max(1000, Number(env.X_POLL_MS) || 65_000) : undefined,
          }
        : undefined,
    imessage: env.IMESSAGE_BLUEBUBBLES_URL
      ? {
          url: env.IMESSAGE_BLUEBUBBLES_URL,
          password: env.IMESSAGE_BLUEBUBBLES_PASSWORD,
          webhookToken: env.IMESSAGE_WEBHOOK_TOKEN,
        }
      : undefined,
    // Email: on with all three; EMAIL_PASSWORD from env, else the Warden secret of that name.
    email:
      env.EMAIL_IMAP_URL && env.EMAIL_SMTP_URL && env.EMAIL_ADDRESS
        ? {
            imapUrl: env.EMAIL_IMAP_URL,
            smtpUrl: env.EMAIL_SMTP_URL,
            address: env.EMAIL_ADDRESS,
            password: env.EMAIL_PASSWORD || undefined,
          }
        : undefined,
    chatSdk: {
      webhooks: hostPort(env.WARDEN_WEBHOOKS ?? "127.0.0.1:7430", "WARDEN_WEBHOOKS"),
      publicUrl: env.WARDEN_PUBLIC_URL,
      partial: partialChatSdk(env),
      github:
        env.GITHUB_WEBHOOK_SECRET && (env.GITHUB_TOKEN || env.GITHUB_APP_ID)
          ? {
              webhookSecret: env.GITHUB_WEBHOOK_SECRET,
              token: env.GITHUB_TOKEN,
              appId: env.GITHUB_APP_ID,
              privateKey: env.GITHUB_PRIVATE_KEY,
              installationId: env.GITHUB_INSTALLATION_ID ? Number(env.GITHUB_INSTALLATION_ID) : undefined,
              apiUrl: env.GITHUB_API_URL,
              userName: env.GITHUB_BOT_USERNAME,
            }
          : undefined,
      linear:
        env.LINEAR_API_KEY && env.LINEAR_WEBHOOK_SECRET
          ? {
              apiKey: env.LINEAR_API_KEY,
              webhookSecret: env.LINEAR_WEBHOOK_SECRET,
              apiUrl: env.LINEAR_API_URL,
            }
          : undefined,
      teams:
        env.TEAMS_APP_ID && env.TEAMS_APP_PASSWORD
          ? {
              appId: env.TEAMS_APP_ID,
              appPassword: env.TEAMS_APP_PASSWORD,
              tenantId: env.TEAMS_APP_TENANT_ID,
              apiUrl: env.TEAMS_API_URL,
              tokenUrl: env.TEAMS_TOKEN_URL,
              openIdMetadataUrl: env.TEAMS_OPENID_METADATA_URL,
            }
          : undefined,
      gchat:
        env.GOOGLE_CHAT_CREDENTIALS && env.GOOGLE_CHAT_PROJECT_NUMBER
          ? {
              credentials: env.GOOGLE_CHAT_CREDENTIALS,
              projectNumber: env.GOOGLE_CHAT_PROJECT_NUMBER,
              endpointUrl: `${(env.WARDEN_PUBLIC_URL ?? `http://${env.WARDEN_WEBHOOKS ?? "127.0.0.1:7430"}`).replace(/\/+$/, "")}/webhooks/gchat`,
              apiUrl: env.GOOGLE_CHAT_API_URL,
              certsUrl: env.GOOGLE_CHAT_CERTS_URL,
            }
          : undefined,
      wacloud:
        env.WHATSAPP_ACCESS_TOKEN &&
        env.WHATSAPP_APP_SECRET &&
        env.WHATSAPP_PHONE_NUMBER_ID &&
        env.WHATSAPP_VERIFY_TOKEN
          ? {
              accessToken: env.WHATSAPP_ACCESS_TOKEN,
              appSecret: env.WHATSAPP_APP_SECRET,
              phoneNumberId: env.WHATSAPP_PHONE_NUMBER_ID,
              verifyToken: env.WHATSAPP_VERIFY_TOKEN,
              apiUrl: env.WHATSAPP_API_URL,
              cardTemplate: env.WHATSAPP_CARD_TEMPLATE
                ? parseWaTemplate(env.WHATSAPP_CARD_TEMPLATE)
                : undefined,
            }
          : undefined,
    },
  };
}
