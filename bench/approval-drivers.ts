/**
 * One driver per chat platform for the approval round-trip bench: the real channel (real SDK)
 * against our fake platform server on 127.0.0.1, the owner's identity and private chat, and a way to
 * wait for the next card there and tap Approve on it the way that platform's client would.
 */
import type { Address, Channel } from "../bot/channel.js";
import { createDiscordChannel } from "../bot/channels/discord/index.js";
import { createSlackChannel } from "../bot/channels/slack/index.js";
import { createTelegramChannel } from "../bot/channels/telegram.js";
import { createWhatsAppChannel } from "../bot/channels/whatsapp/index.js";
import { startFakeDiscord } from "../test/fakes/discord-api.js";
import { startFakeSlack } from "../test/fakes/slack-api.js";
import { startFakeTelegram } from "../test/fakes/telegram-api.js";
import { createFakeWhatsApp } from "../test/fakes/whatsapp-socket.js";

export interface ApprovalDriver {
  readonly name: string;
  readonly channel: Channel;
  readonly owner: { readonly identity: string; readonly chat: Address };
  /**
   * Platforms without private chats (GitHub, Linear): the card also goes to `agentChat` (the agent's
   * thread), where `tapper`, another identity of the owner's, answers it; the owner's `chat` is on
   * `dmChannel`, so the hold has an approver it can reach privately, as it must.
   */
  readonly thread?: { readonly agentChat: Address; readonly tapper: string; readonly dmChannel: Channel };
  /** Waits for a card not seen before in the owner's private chat; resolves with its Approve tap. */
  nextCard(): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * A driver factory's refusal to run on this machine (a real server it needs is not installed): the
 * bench reports that platform as skipped, not failed.
 */
export class DriverSkipped extends Error {
  override readonly name = "DriverSkipped";
}

async function poll<T>(f: () => T | undefined, what: string): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

export async function telegramDriver(): Promise<ApprovalDriver> {
  const OWNER = 4242;
  const tg = await startFakeTelegram();
  let seen = 0;
  return {
    name: "Telegram (grammy)",
    channel: createTelegramChannel({ token: tg.token, apiRoot: tg.apiRoot }),
    owner: { identity: `telegram:${OWNER}`, chat: { platform: "telegram", chatId: String(OWNER) } },
    async nextCard() {
      const card = await tg.waitForCall("sendMessage", (c) => tg.callsTo("sendMessage").indexOf(c) >= seen);
      seen = tg.callsTo("sendMessage").length;
      const keyboard = (card.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] })
        .inline_keyboard;
      const data = keyboard.flat().find((b) => b.text === "Approve")?.callback_data ?? "";
      const messageId = tg.messageIdWithButton(OWNER, data);
      return () => void tg.injectTap({ from: { id: OWNER, name: "Olive" }, chatId: OWNER, messageId, data });
    },
    close: () => tg.close(),
  };
}

export async function slackDriver(): Promise<ApprovalDriver> {
  const OWNER = "UOWNER001";
  const slack = await startFakeSlack();
  const seen = new Set<string>();
  return {
    name: "Slack (Bolt, Socket Mode)",
    channel: createSlackChannel({ botToken: slack.botToken, appToken: slack.appToken, apiUrl: slack.apiUrl }),
    owner: { identity: `slack:${OWNER}`, chat: { platform: "slack", chatId: OWNER } },
    async nextCard() {
      const card = await poll(
        () => slack.posted(OWNER).find((m) => !seen.has(m.ts) && slack.buttons(OWNER, m.ts).length > 0),
        "a Slack card",
      );
      seen.add(card.ts);
      const value = slack.buttons(OWNER, card.ts).find((b) => b.text?.text === "Approve")?.value ?? "";
      return () => void slack.clickButton({ user: OWNER, ts: card.ts, value, expectReply: false });
    },
    close: () => slack.close(),
  };
}

export async function discordDriver(): Promise<ApprovalDriver> {
  const OWNER = "400000000000000001";
  const discord = await startFakeDiscord();
  const seen = new Set<string>();
  return {
    name: "Discord (discord.js)",
    channel: createDiscordChannel({ token: discord.token, apiUrl: discord.apiUrl }),
    owner: { identity: `discord:${OWNER}`, chat: { platform: "discord", chatId: `dm:${OWNER}` } },
    async nextCard() {
      const dm = discord.dmChannelId(OWNER);
      const card = await poll(
        () => discord.messagesIn(dm).find((m) => !seen.has(m.id) && discord.buttonsOn(dm, m.id) > 0),
        "a Discord card",
      );
      seen.add(card.id);
      const rows = card.components as { components: { label: string; custom_id: string }[] }[];
      const customId = rows.flatMap((r) => r.components).find((b) => b.label === "Approve")?.custom_id ?? "";
      return () => void discord.press({ user: OWNER, channelId: dm, messageId: card.id, customId });
    },
    close: () => discord.close(),
  };
}

export async function whatsappDriver(): Promise<ApprovalDriver> {
  const OWNER = "447700900123";
  const dm = `${OWNER}@s.whatsapp.net`;
  const wa = createFakeWhatsApp();
  const seen = new Set<unknown>();
  return {
    name: "WhatsApp (baileys events, 👍 reaction)",
    // No send spacing here: the bench measures Warden, not the politeness delay WhatsApp needs.
    channel: createWhatsAppChannel({ connect: wa.connect, sendGapMs: 0 }),
    owner: { identity: `whatsapp:${OWNER}`, chat: { platform: "whatsapp", chatId: dm } },
    async nextCard() {
      const card = await poll(
        () =>
          wa.sent.find(
            (s) =>
              !seen.has(s) &&
              s.jid === dm &&
              s.kind === "text" &&
              /Reply "approve"/.test(String((s.content as { text?: string }).text)),
          ),
        "a WhatsApp card",
      );
      seen.add(card);
      return () => void wa.react(OWNER, dm, card.message.key, "👍");
    },
    close: async () => undefined,
  };
}
