/**
 * The seam between the bot and a chat platform. One implementation per platform under
 * bot/channels/ (web chat, Telegram, …), each the only file (or folder) importing its SDK, and a
 * fake in test/fakes/fake-channel.ts. Adapters translate; routing, roles and cards live in the bot.
 * Everything inbound is untrusted: ids come from the platform, text and button data from people.
 */

/** A chat somewhere: a private chat with one person, a group, or a thread in either. */
export interface Address {
  readonly platform: string;
  readonly chatId: string;
  readonly threadId?: string;
}

/** Who sent something, as the platform vouches for it. `id` is `<platform>:<userId>`. */
export interface Sender {
  readonly id: string;
  readonly name: string;
}

/** A message the platform delivered. */
export interface InboundMessage {
  readonly kind: "message";
  readonly from: Sender;
  readonly chat: Address;
  /** True in a one-to-one chat with the bot. */
  readonly isPrivate: boolean;
  /** True when the bot was mentioned (groups answer only then, or to /commands). */
  readonly mentioned: boolean;
  readonly text: string;
  /** The platform's message, for deletion (e.g. a pasted secret). */
  readonly ref: SentRef;
  /**
   * Platform user ids (no prefix) of the people this message @-mentions, as the platform resolved
   * them, the bot excluded. Absent where the channel does not report mentions.
   */
  readonly mentions?: readonly string[];
  /**
   * True when the platform never showed this text to anyone (a Slack or Discord slash command):
   * there is no message to delete.
   */
  readonly unposted?: boolean;
}

/**
 * A button tap on a card. `data` is what the bot put on the button (short, opaque, untrusted on
 * return). Platforms without buttons (WhatsApp) send a bare verb, `approve` | `deny` | `grant`,
 * for a reply or reaction to the card message `ref`; the bot finds the approval by that message.
 */
export interface InboundAction {
  readonly kind: "action";
  readonly from: Sender;
  readonly chat: Address;
  readonly data: string;
  /** The message that carried the button, as the platform reports it. */
  readonly ref: SentRef;
  /** Tells the tapper something privately (Telegram callback answer, Slack ephemeral, web toast). */
  readonly reply: (text: string) => Promise<void>;
}

export type InboundEvent = InboundMessage | InboundAction;

/**
 * What a channel's sendCard throws when the platform will not deliver to this person now (a closed
 * 24-hour window): `undeliverable` says why, in Warden's own words. The bot then tells the owners
 * on another platform, and the request stays held (fail closed: never approved for it).
 */
export interface Undeliverable {
  readonly undeliverable: string;
}

export const undeliverableReason = (err: unknown): string | undefined => {
  const r = (err as Partial<Undeliverable> | null)?.undeliverable;
  return typeof r === "string" ? r : undefined;
};

/** A sent message, enough to edit or delete it later. */
export interface SentRef {
  readonly platform: string;
  readonly chatId: string;
  readonly messageId: string;
}

/**
 * An approval card, built by the bot from gateway data only. Channels render it; they never add to it.
 * Honest cards (DESIGN §3.1): a channel that cannot show all of a text (its own length limits) cuts
 * it with `notShown()` (bot/channels/text.ts), counting the characters already cut before it
 * (`hidden`), so an approver always reads how much is missing and where to see it (`link`).
 */
export interface Card {
  readonly title: string;
  /** `hidden`: characters of `value` the bot already left out (0 or absent: none). */
  readonly lines: readonly { readonly label: string; readonly value: string; readonly hidden?: number }[];
  /** The agent's stated reason; channels must show it labelled as the agent's words. */
  readonly agentSays: string | null;
  /** Characters of the reason already left out. */
  readonly agentSaysHidden?: number;
  /**
   * The request body as the gateway previewed it (secrets masked, JSON pretty-printed): shown
   * monospace with its line breaks, never as markup. `hidden` counts the characters not in `text`.
   */
  readonly body?: CardBody | null;
  /** The full held request (every header, the whole body) on the web chat: shown on every card. */
  readonly link?: string | null;
  /** "Waiting: 1 of 2 approvals", "Approved by …", "Expired". */
  readonly status: string;
  /**
   * Empty once decided: channels remove or disable the buttons. `data` is ≤ 64 bytes. A label longer
   * than the platform allows is replaced by `shortLabel` (the card's lines state the full meaning).
   */
  readonly buttons: readonly {
    readonly label: string;
    readonly shortLabel?: string;
    readonly data: string;
    readonly style?: "primary" | "danger";
  }[];
  /**
   * A batch card: several held requests of one agent and policy, each listed in full. The card's own
   * `buttons` are then "Approve all (N)" / "Deny all", covering exactly the N items drawn here.
   * Channels render every item (lines, body, link, status, buttons); where a platform cannot fit an
   * item's buttons (Discord's 5 rows, Slack's 50 blocks) the item says so and points to its link.
   */
  readonly items?: readonly CardItem[];
}

/**
 * One held request on a batch card (DESIGN §6, no approval fatigue): the same honest-card facts as a
 * single card, with its own buttons (empty once it is decided or expired).
 */
export interface CardItem {
  readonly title: string;
  readonly lines: Card["lines"];
  readonly agentSays: string | null;
  readonly agentSaysHidden?: number;
  readonly body?: CardBody | null;
  readonly link?: string | null;
  readonly status: string;
  readonly buttons: Card["buttons"];
}

/** A body preview and how many of its characters are not in `text`. */
export interface CardBody {
  readonly text: string;
  readonly hidden: number;
}

/** Whose words a text is; absent: Warden's own. */
export interface SendTextOptions {
  /** The name of the agent that wrote the text. */
  readonly agent?: string;
}

export interface Channel {
  readonly platform: string;
  /**
   * True where a gesture on a card carries no data (WhatsApp's reply or reaction): a card message
   * then never gains items after it is first sent, so a gesture covers exactly what its sender saw.
   */
  readonly gesturesCarryNoCount?: boolean;
  /**
   * True where a chat is a public comment thread (a GitHub issue or pull request, a Linear comment
   * thread): one bound to an agent is that agent's conversation, so its comments reach the agent
   * without mentioning the bot, like replies in a Slack agent thread. Strangers there get no answer.
   */
  readonly commentThreads?: boolean;
  /**
   * True where the platform has no private chats (GitHub, Linear): `privateChat()` names nothing a
   * card can reach, so an approver is reached on another platform they linked, never here.
   */
  readonly noPrivateChats?: boolean;
  /** Starts receiving; `handler` errors are the bot's problem, channels only log them. */
  start(handler: (event: InboundEvent) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
  /**
   * Sends text, split to the platform's length limit; returns the (last) message sent. With
   * `opts.agent` the text is that agent's output (untrusted): shown under the agent's name in an agent
   * style, its markup neutralised, never in Warden's own voice (bot/channels/agent-voice.ts).
   */
  sendText(to: Address, text: string, opts?: SendTextOptions): Promise<SentRef>;
  sendCard(to: Address, card: Card): Promise<SentRef>;
  updateCard(ref: SentRef, card: Card): Promise<void>;
  /** The private chat with a user of this platform (`userId` without the platform prefix). */
  privateChat(userId: string): Address;
  /**
   * Optional: where an agent's conversation lives on this platform, given the chat it was started
   * from (the web chat gives each agent its own thread; Slack opens a thread under a message it
   * posts). Absent: the agent talks in that chat. The result is stored as the agent's binding.
   */
  agentThread?(agent: string, startedFrom: Address): Address | Promise<Address>;
  /**
   * Optional: shows that an agent is working on an answer (a typing indicator that the platform
   * clears by itself after a few seconds). Absent where the platform has none for bots (Slack).
   */
  typing?(to: Address): Promise<void>;
  /**
   * Optional: the IANA time zone the platform knows for a user (Slack users.info `tz`), for quiet
   * hours set without `tz=`. Absent, or undefined: the platform does not tell (UTC is used).
   */
  timeZoneOf?(userId: string): Promise<string | undefined>;
  /** Optional: deletes a message; absent where the platform cannot (then the bot says so). */
  deleteMessage?(ref: SentRef): Promise<void>;
}
