/**
 * Which approvers get a card now and whose card waits (DESIGN §6 quiet hours), and the lines every
 * card then carries: "<name> is in quiet hours until 07:00 (their card waits)" and "Escalated to …".
 * A person in quiet hours never gets a card during them; it is sent when they end if the request is
 * still pending. Nobody is skipped silently and no quorum shrinks: the others' cards say who waits,
 * and a vote still needs as many distinct approvers as before. Untrusted: nothing from the agent
 * reaches here but the approval id; names come from the bot store (people's own, bounded on cards).
 */
import type { ApprovalView } from "../gateway/index.js";
import type { BotStore, Person } from "./bot-store.js";
import { formatDuration } from "./cards.js";
import type { Address, Card } from "./channel.js";
import { formatTime, isQuiet, type QuietHours, quietEndsAt } from "./quiet-hours.js";

/** An approver's private chat and who it belongs to (absent: an id no person is linked to). */
export interface RouteTarget {
  readonly address: Address;
  readonly person?: Person;
}

/** A card held back for a person in quiet hours. */
interface Waiting {
  readonly address: Address;
  readonly person: Person;
  readonly until: number;
  readonly note: string;
  readonly cancel: () => void;
}

export interface ApproverRoutingOptions {
  /** Read before routing (the store is async); `route` itself stays synchronous. */
  readonly quietOf: (person: string) => Promise<QuietHours | undefined>;
  readonly now: () => number;
  /** Runs `fn` after `ms`; returns its cancel (default: an unref'd timer). */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
  /** The quiet hours of `to` ended: send the approval's card there if it is still pending. */
  readonly deliver: (approval: string, to: Address) => Promise<void>;
}

const addrKey = (a: Address): string => `${a.platform}\u0000${a.chatId}\u0000${a.threadId ?? ""}`;
const MAX_NAME = 64;

function unrefTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
  t.unref();
  return () => clearTimeout(t);
}

/** Creates the router; one per chat approver. Waiting cards live in memory (`resume` re-routes them). */
export function createApproverRouting(opts: ApproverRoutingOptions) {
  const schedule = opts.schedule ?? unrefTimer;
  /** approval id → address key → the card waiting there. */
  const waiting = new Map<string, Map<string, Waiting>>();

  function hold(approval: string, t: RouteTarget & { person: Person }, q: QuietHours): void {
    const byAddr = waiting.get(approval) ?? new Map<string, Waiting>();
    waiting.set(approval, byAddr);
    const k = addrKey(t.address);
    if (byAddr.has(k)) return;
    const until = quietEndsAt(opts.now(), q);
    const name = t.person.name.slice(0, MAX_NAME);
    const note = `${name} is in quiet hours until ${formatTime(q.end)} (their card waits)`;
    const cancel = schedule(
      () => {
        byAddr.delete(k);
        if (byAddr.size === 0) waiting.delete(approval);
        void opts.deliver(approval, t.address).catch(() => undefined);
      },
      Math.max(0, until - opts.now()),
    );
    byAddr.set(k, { address: t.address, person: t.person, until, note, cancel });
  }

  return {
    /**
     * The chats to send `approval`'s card to now; targets in quiet hours are held back (their card
     * is sent when the hours end). Call again on every draw: holding is idempotent per chat.
     */
    async route(approval: string, targets: Iterable<RouteTarget>): Promise<Map<string, Address>> {
      const open = [...targets].filter((t) => !waiting.get(approval)?.has(addrKey(t.address)));
      // All reads first, then the decisions without an await, as one step.
      const quiet = await Promise.all(open.map((t) => (t.person ? opts.quietOf(t.person.id) : undefined)));
      const now = opts.now();
      const out = new Map<string, Address>();
      for (const [i, t] of open.entries()) {
        const k = addrKey(t.address);
        if (waiting.get(approval)?.has(k)) continue;
        const q = quiet[i];
        if (t.person && q && isQuiet(now, q)) hold(approval, { ...t, person: t.person }, q);
        else out.set(k, t.address);
      }
      return out;
    },

    /** True while some card of `approval` waits for quiet hours to end (it can still be decided). */
    waits(approval: string): boolean {
      return (waiting.get(approval)?.size ?? 0) > 0;
    },

    /** The "… is in quiet hours until 07:00 (their card waits)" lines for `approval`'s cards. */
    notes(approval: string): string[] {
      return [...(waiting.get(approval)?.values() ?? [])].map((w) => w.note);
    },

    /** Forgets an approval's waiting cards (it was decided, expired or withdrawn). */
    settle(approval: string): void {
      for (const w of waiting.get(approval)?.values() ?? []) w.cancel();
      waiting.delete(approval);
    },

    /** Cancels every timer (the bot stops). */
    stop(): void {
      for (const id of [...waiting.keys()]) this.settle(id);
    },
  };
}

export type ApproverRouting = ReturnType<typeof createApproverRouting>;

/**
 * The card with its routing lines: who was escalated to (names, or "everyone with role X") and
 * whose card waits in quiet hours. Added after the card's own lines; a decided card keeps
 * "Escalated to" (what happened) but not the quiet notes (nobody waits any more).
 */
export function annotateCard(
  card: Card,
  view: Pick<ApprovalView, "state" | "escalatedTo">,
  extra: { readonly quiet: readonly string[]; readonly nameOf: (id: string) => string },
): Card {
  const lines = [...card.lines];
  if (view.escalatedTo && view.escalatedTo.length > 0)
    lines.push({
      label: "Escalated to",
      value: view.escalatedTo.map((id) => escalateeName(id, extra.nameOf)).join(", "),
    });
  if (view.state === "pending" && extra.quiet.length > 0)
    lines.push({ label: "Quiet hours", value: extra.quiet.join("; ") });
  return lines.length === card.lines.length ? card : { ...card, lines };
}

function escalateeName(id: string, nameOf: (id: string) => string): string {
  if (id.startsWith("role:")) return `every ${id.slice(5)}`.slice(0, MAX_NAME);
  return nameOf(id).slice(0, MAX_NAME);
}

/**
 * Who gets the one reminder: every approver (roles expanded) who has not voted, each person once
 * however many of their identities the list names; people in quiet hours are left out (their card
 * waits anyway).
 */
export async function peopleToRemind(
  view: Pick<ApprovalView, "approvers" | "approvals" | "deniedBy">,
  deps: {
    readonly store: Pick<BotStore, "listPeople" | "personOf" | "quietOf">;
    readonly now: number;
    readonly holds: (person: Person, role: string) => boolean;
  },
): Promise<Person[]> {
  const { store } = deps;
  const voters = [...view.approvals, ...(view.deniedBy ? [view.deniedBy] : [])];
  const voted = new Set<string>();
  for (const id of voters) voted.add((await store.personOf(id))?.id ?? id);
  const out = new Map<string, Person>();
  for (const entry of view.approvers) {
    const people = entry.startsWith("role:")
      ? (await store.listPeople()).filter((p) => deps.holds(p, entry.slice(5)))
      : [await store.personOf(entry)].filter((p): p is Person => p !== undefined);
    for (const p of people) {
      const q = await store.quietOf(p.id);
      if (!voted.has(p.id) && !(q && isQuiet(deps.now, q))) out.set(p.id, p);
    }
  }
  return [...out.values()];
}

/** The reminder DM: the card's (cleaned) title, the time left and where to decide. */
export function reminderText(card: Pick<Card, "title" | "link">, expiresInMs: number): string {
  const where = card.link ? `Card and full request: ${card.link}` : "The card is above.";
  return `Reminder: ${card.title} is still waiting for your decision (expires in ${formatDuration(expiresInMs)}). ${where}`;
}
