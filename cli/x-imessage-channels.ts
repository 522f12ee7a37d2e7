/**
 * `warden start` wiring for the two direct-message platforms of #12 that have no Chat SDK adapter:
 * X DMs (bot/channels/x/) and iMessage through BlueBubbles (bot/channels/imessage/). Settings come
 * from cli/chat-settings.ts; secrets (the X keys, the BlueBubbles password) go only to the channels'
 * clients, never to `say` or the log. X polls its DM timeline always (from a cursor in
 * `WARDEN_HOME/x-dm-cursor.json`) and also takes the Account Activity webhook when
 * `WARDEN_PUBLIC_URL` is set (X must reach it to register); iMessage needs the webhook listener
 * (BlueBubbles pushes, with no signature): its path token is printed once, when it is made.
 */
import { join } from "node:path";
import type { Channel, SentRef } from "../bot/channel.js";
import type { CodeStore } from "../bot/channels/approval-codes.js";
import { createBlueBubbles, createIMessageChannel, webhookToken } from "../bot/channels/imessage/index.js";
import { createXApi, createXChannel, fileCursorStore } from "../bot/channels/x/index.js";
import type { WebhookListener } from "../bot/webhooks/index.js";
import type { Log } from "../gateway/index.js";

export interface XSettings {
  /** `X_API_KEY`, `X_API_SECRET` (consumer), `X_ACCESS_TOKEN`, `X_ACCESS_SECRET` (the bot account). */
  readonly appKey: string;
  readonly appSecret: string;
  readonly accessToken: string;
  readonly accessSecret: string;
  /** `X_API_URL`: another API base (a fake on 127.0.0.1 in tests). */
  readonly apiUrl?: string;
  /** `X_POLL_MS`: how often the DM timeline is read (default 65 s, the endpoint's rate limit). */
  readonly pollMs?: number;
}

export interface IMessageSettings {
  /** `IMESSAGE_BLUEBUBBLES_URL`. */
  readonly url: string;
  /** `IMESSAGE_BLUEBUBBLES_PASSWORD` from the environment; else the Warden secret of that name. */
  readonly password?: string;
  /** `IMESSAGE_WEBHOOK_TOKEN`; else one made once and kept in `WARDEN_HOME/imessage-webhook-token`. */
  readonly webhookToken?: string;
}

export interface DmChannelContext {
  readonly home: string;
  readonly log: Log;
  readonly say: (line: string) => void;
  readonly isCard: (ref: SentRef) => boolean;
  /** The shared webhook listener, started on first use. */
  readonly listener: () => Promise<WebhookListener>;
  /** `WARDEN_PUBLIC_URL`: the address platforms are told. */
  readonly publicUrl?: string;
  readonly secret?: (name: string) => string | undefined;
  readonly codeStore?: (platform: string) => CodeStore;
}

export async function xAndIMessageChannels(
  s: { readonly x?: XSettings; readonly imessage?: IMessageSettings },
  o: DmChannelContext,
): Promise<Channel[]> {
  const out: Channel[] = [];
  const base = async () => (o.publicUrl ?? (await o.listener()).url).replace(/\/+$/, "");
  if (s.x) {
    const { pollMs, ...creds } = s.x;
    const listener = o.publicUrl ? await o.listener() : undefined;
    out.push(
      createXChannel({
        api: createXApi(creds),
        cursor: fileCursorStore(join(o.home, "x-dm-cursor.json")),
        log: o.log,
        pollMs,
        codeStore: o.codeStore?.("x"),
        ...(listener ? { webhook: { listener, consumerSecret: creds.appSecret } } : {}),
      }),
    );
    o.say(
      listener
        ? `x: DMs by the Account Activity webhook at ${await base()}/webhooks/x (and polled as a catch-up)`
        : "x: DMs polled (set WARDEN_PUBLIC_URL for the Account Activity webhook)",
    );
  }
  if (s.imessage) {
    // From the environment, else the Warden secret of that name (read per call: the vault opens
    // after the channels are built, and a changed secret takes effect at once).
    const password = s.imessage.password ?? (() => o.secret?.("IMESSAGE_BLUEBUBBLES_PASSWORD"));
    const { token, created } = webhookToken(join(o.home, "imessage-webhook-token"), s.imessage.webhookToken);
    const listener = await o.listener();
    out.push(
      createIMessageChannel({
        bb: createBlueBubbles({ url: s.imessage.url, password }),
        listener,
        webhookToken: token,
        log: o.log,
        isCard: o.isCard,
        codeStore: o.codeStore?.("imessage"),
      }),
    );
    // The token is the webhook's only credential: shown once, when made (it stays in the file).
    o.say(
      created
        ? `imessage: in BlueBubbles (API & Webhooks), add the webhook ${await base()}/webhooks/imessage/${token} for new messages (shown once; kept in ${join(o.home, "imessage-webhook-token")})`
        : `imessage: webhooks at ${await base()}/webhooks/imessage/<token in ${s.imessage.webhookToken ? "IMESSAGE_WEBHOOK_TOKEN" : join(o.home, "imessage-webhook-token")}>`,
    );
  }
  return out;
}
