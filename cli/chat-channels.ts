/**
 * The chat platforms `warden start` runs besides the built-in web chat, each when its settings are
 * given (tokens from the environment, read in cli/warden.ts). WhatsApp pairs by QR code: it is
 * printed in the terminal and shown to the owner at `<web>/pair/whatsapp`. baileys is optional
 * (GPL-3.0 libsignal), so it is loaded only when WhatsApp is switched on.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Channel, SentRef } from "../bot/channel.js";
import {
  type ChatSdkSettings,
  chatSdkPlatforms,
  createChatSdkChannels,
} from "../bot/channels/chat-sdk/index.js";
import { createDiscordChannel } from "../bot/channels/discord/index.js";
import { createEmailChannel } from "../bot/channels/email/index.js";
import { createSlackChannel } from "../bot/channels/slack/index.js";
import { createTelegramChannel } from "../bot/channels/telegram.js";
import {
  type ConnectWhatsAppOptions,
  createWhatsAppChannel,
  loadWhatsAppConnect,
  qrForTerminal,
  qrSvg,
  type WhatsAppConnect,
} from "../bot/channels/whatsapp/index.js";
import { codeStoreOf, replayStoreOf, type StateRows, waWindowStoreOf } from "../bot/persisted-state.js";
import { startWebhookListener, type WebhookListener } from "../bot/webhooks/index.js";
import type { Log } from "../gateway/index.js";
import { type MatrixSettings, matrixChannels } from "./matrix-channels.js";
import { type MetaSettings, type WebexSettings, webexAndMetaChannels } from "./webex-meta-channels.js";
import { type IMessageSettings, type XSettings, xAndIMessageChannels } from "./x-imessage-channels.js";

export interface ChatSettings {
  /** Telegram bot token (and an alternative Bot API root). */
  readonly telegram?: { readonly token: string; readonly apiRoot?: string };
  /**
   * Slack: Socket Mode with the bot (xoxb-) and app-level (xapp-) tokens; or, with a signing secret
   * and no app token, HTTP mode listening on `http` for Slack's POSTs to /slack/events.
   */
  readonly slack?: {
    readonly botToken: string;
    readonly appToken?: string;
    readonly signingSecret?: string;
    readonly apiUrl?: string;
    readonly http?: { readonly host: string; readonly port: number };
  };
  /** Discord bot token (and an alternative API root, e.g. http://127.0.0.1:PORT/api). */
  readonly discord?: { readonly token: string; readonly apiUrl?: string };
  /** Matrix: /sync long polling as the bot account (bot/channels/matrix/, wired in matrix-channels.ts). */
  readonly matrix?: MatrixSettings;
  /**
   * Email (IMAP IDLE in, SMTP out). `password`: EMAIL_PASSWORD from the environment; absent, the
   * `secret` lookup below is asked for the Warden secret EMAIL_PASSWORD when the channel starts.
   */
  readonly email?: {
    readonly imapUrl: string;
    readonly smtpUrl: string;
    readonly address: string;
    readonly password?: string;
  };
  /** WhatsApp Web: credentials in `WARDEN_HOME/whatsapp`; `connect` replaces the real connection (tests). */
  readonly whatsapp?: {
    readonly connect?: WhatsAppConnect;
    /** Replaces baileys' makeWASocket under the real connection code (tests). */
    readonly makeSocket?: ConnectWhatsAppOptions["makeSocket"];
    /** `WHATSAPP_WS_URL`: another WhatsApp Web endpoint (baileys' `waWebSocketUrl`). */
    readonly wsUrl?: string;
  };
  /** X DMs (bot/channels/x/, wired in x-imessage-channels.ts). */
  readonly x?: XSettings;
  /** iMessage through the user's BlueBubbles server (bot/channels/imessage/). */
  readonly imessage?: IMessageSettings;
  /** Webex, Messenger and Instagram: our own REST clients on the same webhook listener. */
  readonly webex?: WebexSettings;
  readonly messenger?: MetaSettings;
  readonly instagram?: MetaSettings;
  /**
   * Webhook platforms through Vercel's Chat SDK (GitHub, Linear, …): one listener for all of them
   * at `webhooks` (`WARDEN_WEBHOOKS`), told to the platforms as `publicUrl` (`WARDEN_PUBLIC_URL`).
   */
  readonly chatSdk?: ChatSdkSettings & {
    readonly webhooks: { readonly host: string; readonly port: number };
    readonly publicUrl?: string;
    /** Webhook platforms whose settings are only partly given (reported by `warden doctor`). */
    readonly partial?: readonly { readonly platform: string; readonly missing: readonly string[] }[];
  };
}

export interface ChatChannels {
  readonly channels: Channel[];
  /** The WhatsApp pairing QR as SVG while one waits to be scanned. */
  pairingSvg(): string | undefined;
  /** Closes what the channels share (the webhook listener); the channels stop with the bot. */
  close(): Promise<void>;
}

/** Builds the configured platform channels (not started). */
export async function chatChannels(
  s: ChatSettings,
  o: {
    home: string;
    log: Log;
    say: (line: string) => void;
    webUrl: () => string;
    /** Whether a sent message carried an approval card (the bot's records). */
    isCard: (ref: SentRef) => boolean;
    /** The role this Warden gives an identity (Matrix joins room invites from owners and admins only). */
    roleOf?: (identity: string) => Promise<string | undefined>;
    /** The bot store: webhook replay keys, approval codes and WhatsApp windows outlive a restart. */
    state?: StateRows;
    /** A Warden secret's value by name (a channel's own long-lived password), read when needed. */
    secret?: (name: string) => string | undefined;
    /**
     * Seals WhatsApp Web's credentials (the vault's key), asked when the channel connects: with
     * `state`, they are kept sealed in the store, shared by replicas (a new leader keeps the device).
     */
    whatsappSealer?: () => Promise<{ seal(b: Buffer): Buffer; open(b: Buffer): Buffer }>;
  },
): Promise<ChatChannels> {
  const channels: Channel[] = [];
  let svg: string | undefined;
  let latest: string | undefined;
  if (s.telegram)
    channels.push(createTelegramChannel({ token: s.telegram.token, apiRoot: s.telegram.apiRoot }));
  if (s.slack) {
    const { botToken, appToken, signingSecret, apiUrl, http } = s.slack;
    if (!appToken && !signingSecret)
      throw new Error("Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)");
    channels.push(
      createSlackChannel({
        botToken,
        appToken,
        signingSecret,
        apiUrl,
        socketMode: !!appToken,
        http,
        log: o.log,
      }),
    );
  }
  if (s.discord)
    channels.push(createDiscordChannel({ token: s.discord.token, apiUrl: s.discord.apiUrl, log: o.log }));
  channels.push(...matrixChannels(s, o));
  if (s.whatsapp) {
    let connect = s.whatsapp.connect;
    if (!connect) {
      const { connectWhatsApp } = await loadWhatsAppConnect();
      const authDir = join(o.home, "whatsapp");
      const rows = o.state;
      const sealer = o.whatsappSealer;
      // A device linked by an older version stays in its directory until it is unlinked (its files
      // cannot all be mapped back to keys); after that, and on a fresh home, the store holds it.
      const inStore = async () =>
        rows && sealer && !existsSync(join(authDir, "creds.json"))
          ? { authStore: { rows, sealer: await sealer() } }
          : { authDir };
      connect = async () =>
        connectWhatsApp({
          ...(await inStore()),
          log: o.log,
          makeSocket: s.whatsapp?.makeSocket,
          wsUrl: s.whatsapp?.wsUrl,
          onQr: (qr) => {
            latest = qr;
            Promise.all([qrForTerminal(qr), qrSvg(qr)])
              .then(([terminal, image]) => {
                if (latest !== qr) return; // paired, or a newer code arrived meanwhile
                svg = image;
                o.say(
                  `WhatsApp: scan this with the phone Warden should use (Settings → Linked devices), or open ${o.webUrl()}/pair/whatsapp as the owner:\n${terminal}`,
                );
              })
              .catch((err: unknown) => o.log("whatsapp_qr_failed", { error: (err as Error).name }));
          },
          onStatus: (status, detail) => {
            if (status !== "pairing") [svg, latest] = [undefined, undefined];
            if (status === "open") o.say("WhatsApp: connected.");
            if (status === "logged_out")
              o.say(`WhatsApp: logged out (${detail}); a new pairing code follows.`);
          },
        });
    }
    channels.push(createWhatsAppChannel({ connect, log: o.log, isCard: o.isCard }));
  }
  if (s.email) {
    const { password, ...rest } = s.email;
    channels.push(
      createEmailChannel({
        settings: { ...rest, password: password ?? (() => o.secret?.("EMAIL_PASSWORD")) },
        log: o.log,
        state: o.state,
      }),
    );
  }
  let webhooks: WebhookListener | undefined;
  const sdk = s.chatSdk;
  const state = o.state;
  const platforms = sdk ? await chatSdkPlatforms(sdk, state ? { waWindow: waWindowStoreOf(state) } : {}) : [];
  // One listener for every webhook platform, started by the first that needs it.
  const listener = async (): Promise<WebhookListener> => {
    webhooks ??= await startWebhookListener({
      host: sdk?.webhooks.host ?? "127.0.0.1",
      port: sdk?.webhooks.port ?? 7430,
      log: o.log,
      replayStore: state && replayStoreOf(state),
    });
    return webhooks;
  };
  const codeStore = state ? (platform: string) => codeStoreOf(state, platform) : undefined;
  if (sdk && platforms.length > 0) {
    webhooks = await listener();
    const base = (sdk.publicUrl ?? webhooks.url).replace(/\/+$/, "");
    for (const p of platforms) o.say(`${p.platform}: webhooks at ${base}/webhooks/${p.platform}`);
    channels.push(
      ...createChatSdkChannels({
        platforms,
        listener: webhooks,
        log: o.log,
        codeStore,
      }),
    );
  }
  channels.push(
    ...(await xAndIMessageChannels(s, {
      ...o,
      publicUrl: sdk?.publicUrl,
      codeStore,
      listener,
    })),
  );
  // Webex, Messenger, Instagram: the same listener (started here when no Chat SDK platform did).
  channels.push(
    ...(await webexAndMetaChannels(s, {
      log: o.log,
      say: o.say,
      publicUrl: sdk?.publicUrl,
      state,
      codeStore,
      listener,
    })),
  );
  return { channels, pairingSvg: () => svg, close: async () => webhooks?.close() };
}
