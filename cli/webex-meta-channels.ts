/**
 * `warden start` wiring for Webex, Messenger and Instagram (our own REST clients, signed webhooks on
 * the shared listener at `/webhooks/<platform>`). Settings come from cli/chat-settings.ts; tokens
 * and secrets go only to the channels' clients and verifiers, never to `say` or the log. With the
 * bot store (`state`), approval codes and each person's 24-hour messaging window outlive a restart.
 */
import type { Channel } from "../bot/channel.js";
import { type CodeStore, createApprovalCodes } from "../bot/channels/approval-codes.js";
import { createMetaChannel, type MetaPlatform, type WindowStore } from "../bot/channels/meta/index.js";
import { createWebexChannel } from "../bot/channels/webex/index.js";
import type { StateRows } from "../bot/persisted-state.js";
import type { WebhookListener } from "../bot/webhooks/index.js";
import type { Log } from "../gateway/index.js";

/** `WEBEX_BOT_TOKEN`, `WEBEX_WEBHOOK_SECRET` (`WEBEX_API_URL`). */
export interface WebexSettings {
  readonly token: string;
  readonly webhookSecret: string;
  readonly apiUrl?: string;
}

/** `MESSENGER_PAGE_TOKEN` / `INSTAGRAM_ACCESS_TOKEN`, `*_APP_SECRET`, `*_VERIFY_TOKEN` (`*_API_URL`). */
export interface MetaSettings {
  readonly token: string;
  readonly appSecret: string;
  readonly verifyToken: string;
  readonly apiUrl?: string;
}

export interface WebexMetaContext {
  readonly log: Log;
  readonly say: (line: string) => void;
  /** The shared webhook listener, started on first use. */
  readonly listener: () => Promise<WebhookListener>;
  /** `WARDEN_PUBLIC_URL`: the address the platforms are told. */
  readonly publicUrl?: string;
  readonly state?: StateRows;
  readonly codeStore?: (platform: string) => CodeStore;
}

const DAY = 24 * 3600_000;

/** A Meta platform's windows in the bot store: one row per person, gone a day after their message. */
function windowStoreOf(rows: StateRows, platform: MetaPlatform): WindowStore {
  const ns = `${platform}-window`;
  return {
    async lastInbound(user) {
      const v = Number(await rows.stateGet(ns, user));
      return Number.isFinite(v) && v > 0 ? v : undefined;
    },
    sawInbound: (user, at) => rows.statePut(ns, user, String(at), at + DAY),
    forget: async (user) => void (await rows.stateDelete(ns, user)),
  };
}

export async function webexAndMetaChannels(
  s: { readonly webex?: WebexSettings; readonly messenger?: MetaSettings; readonly instagram?: MetaSettings },
  o: WebexMetaContext,
): Promise<Channel[]> {
  const out: Channel[] = [];
  if (!s.webex && !s.messenger && !s.instagram) return out;
  const listener = await o.listener();
  const base = (o.publicUrl ?? listener.url).replace(/\/+$/, "");
  if (s.webex) {
    out.push(
      createWebexChannel({
        token: s.webex.token,
        webhookSecret: s.webex.webhookSecret,
        apiUrl: s.webex.apiUrl,
        listener,
        publicUrl: o.publicUrl,
        log: o.log,
      }),
    );
    o.say(
      o.publicUrl
        ? `webex: webhooks at ${base}/webhooks/webex (registered with Webex on start)`
        : "webex: set WARDEN_PUBLIC_URL so Webex can reach /webhooks/webex (webhooks are registered on start)",
    );
  }
  for (const platform of ["messenger", "instagram"] as const) {
    const m = s[platform];
    if (!m) continue;
    out.push(
      createMetaChannel({
        platform,
        token: m.token,
        appSecret: m.appSecret,
        verifyToken: m.verifyToken,
        apiUrl: m.apiUrl,
        listener,
        log: o.log,
        ...(o.state ? { window: windowStoreOf(o.state, platform) } : {}),
        ...(o.codeStore ? { codes: createApprovalCodes(o.codeStore(platform)) } : {}),
      }),
    );
    o.say(`${platform}: webhooks at ${base}/webhooks/${platform} (callback URL with the verify token)`);
  }
  return out;
}

/** `<P>_<TOKEN>`, `<P>_APP_SECRET`, `<P>_VERIFY_TOKEN` (and `<P>_API_URL`): on only with all three. */
export function metaSettingsFrom(
  env: NodeJS.ProcessEnv,
  prefix: "MESSENGER" | "INSTAGRAM",
  tokenName: "PAGE_TOKEN" | "ACCESS_TOKEN",
): MetaSettings | undefined {
  const token = env[`${prefix}_${tokenName}`];
  const appSecret = env[`${prefix}_APP_SECRET`];
  const verifyToken = env[`${prefix}_VERIFY_TOKEN`];
  if (!token || !appSecret || !verifyToken) return undefined;
  return { token, appSecret, verifyToken, apiUrl: env[`${prefix}_API_URL`] };
}
