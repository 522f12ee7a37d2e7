/**
 * Approval cards as plain text for the button-less platforms that render no markup at all (X DMs,
 * iMessage): the card's text from bot/channels/text.ts renderCard (every field flattened, every cut
 * counted, the agent's words quoted and labelled), a header with the card's short approval code, and
 * a prompt saying which reply decides (`approve <code>`; iMessage adds tapbacks). Agent output
 * (untrusted) is sent under the agent's label with each line behind a `› ` rule Warden's own messages
 * never use, so it cannot read as Warden speaking. These platforms cannot edit a sent message: a
 * card's later status (votes, escalation, the decision) is a follow-up naming the card's code.
 */
import type { Card, CardItem, SentRef } from "../channel.js";
import { agentLabel, tidyAgentText } from "./agent-voice.js";
import {
  type CodeStore,
  type CodeTarget,
  type CodeVerb,
  createApprovalCodes,
  verbOfData,
} from "./approval-codes.js";
import { oneLine, renderCard, splitText } from "./text.js";

export interface PlainCardOptions {
  /** Largest message, in UTF-16 units. */
  readonly limit: number;
  /** iMessage: a 👍 / 👎 tapback on the card message approves / denies everything it shows. */
  readonly tapbacks?: boolean;
  /** Where codes outlive a restart (the bot store); default in memory. */
  readonly codeStore?: CodeStore;
}

function verbsOf(buttons: Card["buttons"]): CodeVerb[] {
  const verbs: CodeVerb[] = [];
  for (const b of buttons) {
    const v = verbOfData(b.data);
    if (v && !verbs.includes(v)) verbs.push(v);
  }
  return verbs;
}

/** `Reply "approve k3f9x2" or "deny k3f9x2" to decide.` for the verbs the buttons offer. */
function prompt(buttons: Card["buttons"], code: string, tapbacks: boolean): string {
  const verbs = verbsOf(buttons);
  if (verbs.length === 0) return "";
  const main = verbs.filter((v) => v !== "grant").map((v) => `"${v} ${code}"`);
  const parts: string[] = [];
  if (tapbacks && main.length > 0) {
    const react = [
      verbs.includes("approve") ? "👍 to approve" : "",
      verbs.includes("deny") ? "👎 to deny" : "",
    ];
    parts.push(
      `React ${react.filter(Boolean).join(" or ")} (a tapback on this message), or reply ${main.join(" or ")}.`,
    );
  } else if (main.length > 0) parts.push(`Reply ${main.join(" or ")} to decide.`);
  const grant = buttons.find((b) => verbOfData(b.data) === "grant");
  // The grant label is the bot's own text, flattened to one line.
  if (grant) parts.push(`Reply "grant ${code}" for ${oneLine(grant.label, 300)}.`);
  return parts.join(" ");
}

const asCard = (item: CardItem): Card => ({ ...item });

/**
 * The card as one plain-text message of at most `o.limit` characters. `codes[0]` is the card's,
 * `codes[i + 1]` item i's. Prompts are never cut; the card text gets the room left.
 */
export function renderPlainCard(card: Card, codes: readonly string[], o: PlainCardOptions): string {
  const items = card.items ?? [];
  const tap = o.tapbacks === true;
  const header = `Warden: approval request [${codes[0] ?? ""}]`;
  if (items.length === 0) {
    const ask = prompt(card.buttons, codes[0] ?? "", tap);
    const room = o.limit - header.length - ask.length - 8;
    return [header, renderCard(card, room).text, ask].filter((p) => p !== "").join("\n\n");
  }
  const asks = items.map((it, i) => prompt(it.buttons, codes[i + 1] ?? "", false));
  const allAsk = prompt(card.buttons, codes[0] ?? "", tap);
  const fixed = header.length + allAsk.length + asks.reduce((n, a) => n + a.length + 40, 0) + 20;
  const each = Math.max(300, Math.floor((o.limit - fixed) / (items.length + 1)));
  const parts = [header, renderCard({ ...card, items: undefined }, each).text, allAsk];
  items.forEach((it, i) => {
    parts.push(
      `— Request ${i + 1} of ${items.length} [${codes[i + 1] ?? ""}] —`,
      renderCard(asCard(it), each).text,
      asks[i] ?? "",
    );
  });
  return parts.filter((p) => p !== "").join("\n\n");
}

/**
 * The follow-up for a card whose status changed (no edits on these platforms): the card's code,
 * title and new status, and for a batch each item whose status is shown. Empty: nothing to say.
 */
export function plainFollowUp(card: Card, code: string): string {
  const open = card.buttons.length > 0 || (card.items ?? []).some((it) => it.buttons.length > 0);
  const lines = [`Update on [${code}]: ${oneLine(card.title, 300)}`, oneLine(card.status, 300)];
  for (const [i, it] of (card.items ?? []).entries()) lines.push(`${i + 1}. ${oneLine(it.status, 200)}`);
  if (!open) lines.push("This request is no longer open.");
  return lines.join("\n");
}

/** An agent's words as plain-text messages, each at most `limit` characters. */
export function plainAgentTexts(agent: string, text: string, limit: number): string[] {
  const head = `${agentLabel(agent)}:`;
  const ruled = tidyAgentText(text)
    .split("\n")
    .map((l) => `› ${l}`)
    .join("\n");
  return splitText(ruled, limit - head.length - 3).map(
    (part) => `${head}\n${part.startsWith("› ") ? part : `› ${part}`}`,
  );
}

/**
 * The cards one plain-text channel has sent: their codes (what a code reply stands for, fixed when
 * the card was sent: no edits, so a code means exactly what its reader saw) and the last status
 * told for each, so a follow-up is sent only when something changed.
 */
export interface PlainCardBook {
  /** The text of a new card and the codes drawn for it. */
  draw(card: Card): Promise<{ text: string; codes: string[] }>;
  /** Records a sent card under its message id. */
  sent(ref: SentRef, card: Card, codes: readonly string[]): Promise<void>;
  /** The follow-up for `card` on the message `ref`, or undefined when nothing changed. */
  followUp(ref: SentRef, card: Card): string | undefined;
  /** The card's code (its messages' id): the card message of a code reply. */
  lookup(code: string): Promise<CodeTarget | undefined>;
  /** The code drawn for a card message. */
  codeOf(ref: SentRef): string | undefined;
}

export function createPlainCardBook(o: PlainCardOptions): PlainCardBook {
  const codes = createApprovalCodes(o.codeStore);
  const cards = new Map<string, { codes: readonly string[]; told: string }>();
  const MAX_CARDS = 20_000;
  return {
    async draw(card) {
      const drawn = [await codes.fresh()];
      for (const _ of card.items ?? []) drawn.push(await codes.fresh());
      return { text: renderPlainCard(card, drawn, o), codes: drawn };
    },
    async sent(ref, card, drawn) {
      await codes.bind(drawn[0] ?? "", ref, card.buttons);
      for (const [i, it] of (card.items ?? []).entries())
        await codes.bind(drawn[i + 1] ?? "", ref, it.buttons);
      cards.set(ref.messageId, { codes: drawn, told: plainFollowUp(card, drawn[0] ?? "") });
      if (cards.size > MAX_CARDS) cards.delete(cards.keys().next().value as string);
    },
    followUp(ref, card) {
      const c = cards.get(ref.messageId);
      if (!c) return undefined;
      const text = plainFollowUp(card, c.codes[0] ?? "");
      if (text === c.told) return undefined;
      c.told = text;
      return text;
    },
    lookup: (code) => codes.lookup(code),
    codeOf: (ref) => cards.get(ref.messageId)?.codes[0],
  };
}
