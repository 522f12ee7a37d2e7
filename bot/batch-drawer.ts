/**
 * Draws batch cards and takes their "Approve all" / "Deny all" taps (the chat approver's batching
 * path; bot/batches.ts decides membership, bot/batch-cards.ts builds the card). A draw puts the
 * batch's current state on every message it already has and sends it to approvers (and bound
 * chats) who have none yet; draws of one batch run one at a time and coalesce, so 12 arrivals in
 * two seconds cost a few edits, not 12 cards. Untrusted: the tapped message and button data (the
 * tap must arrive on a message drawn for that very batch, its count must name items that exist) and
 * the tapper (each vote goes through the same gateway check as a single tap, refusals audited there).
 *
 * Channels whose gestures carry no count (WhatsApp: a 👍 or "approve" reply names no n) get frozen
 * card messages: a message's items are fixed when it is first sent (the approvals with a card ref on
 * it); redraws change only their statuses. Requests that join later wait, and go to a NEW message in
 * that chat once the window closes (no arrival for `windowMs`, or the batch is full), so a gesture
 * racing an edit can never approve a request its sender did not see. A waiting send counts as
 * reaching that chat (like a card waiting out quiet hours).
 */
import type { ApprovalView, Log } from "../gateway/index.js";
import type { BatchAction } from "./batch-cards.js";
import { MAX_BATCH_ITEMS } from "./batches.js";
import type { BotStore } from "./bot-store.js";
import type { Address, Card, Channel, InboundAction, SentRef } from "./channel.js";
import type { ControlPort } from "./control-port.js";

export interface BatchDrawerOptions {
  readonly channels: ReadonlyMap<string, Channel>;
  readonly control: ControlPort;
  readonly store: BotStore;
  readonly log: Log;
  /** `from`: the batch position of `views[0]` (a frozen message showing a later slice). */
  readonly build: (batch: string, views: readonly ApprovalView[], from: number) => Promise<Card>;
  /** The approvers' private chats for the batch (keyed; `view` is its latest item), and bound chats. */
  readonly targets: (
    view: ApprovalView,
    all: readonly ApprovalView[],
  ) => Promise<{ approvers: Map<string, Address>; bound: Address[] }>;
  /** Casts `from`'s vote as a tap would and returns the tap's answer. */
  readonly decide: (from: string, view: ApprovalView, action: "approve" | "deny") => Promise<string>;
  /** The batch window: later items wait this long without a new arrival before their new message. */
  readonly windowMs?: number;
  /** A batch this full takes no more: its waiting items are sent at once. */
  readonly maxItems?: number;
  /** Tells the owners elsewhere when a platform would not take a card now (bot/undeliverable-notice.ts). */
  readonly undeliverable?: (what: string, to: Address, err: unknown, card: Card) => Promise<boolean>;
  /** Timers for the window (tests pass a fake clock's); default unref'd setTimeout. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
}

const NOT_APPROVER = "You are not an approver for this request";
const key = (a: Address): string => `${a.platform}\u0000${a.chatId}\u0000${a.threadId ?? ""}`;
const sameRef = (a: SentRef, b: SentRef): boolean =>
  a.platform === b.platform && a.chatId === b.chatId && a.messageId === b.messageId;
const defaultSchedule = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref?.();
  return () => clearTimeout(t);
};

interface Run {
  chain: Promise<unknown>;
  wanted: number;
  done: number;
  last: number;
  /** A flush (send the waiting items of frozen chats) was asked for and not yet drawn. */
  flush: boolean;
}

/** Creates the drawer; `draw(batch)` resolves with how many approver chats show the batch. */
export function createBatchDrawer(o: BatchDrawerOptions) {
  const { channels, control, store, log } = o;
  const windowMs = o.windowMs ?? 0;
  const maxItems = o.maxItems ?? MAX_BATCH_ITEMS;
  const schedule = o.schedule ?? defaultSchedule;
  const runs = new Map<string, Run>();
  // The window timer per batch with items waiting for a new frozen message, and the size it was set at.
  const waits = new Map<string, { cancel: () => void; size: number }>();
  const frozen = (platform: string): boolean => channels.get(platform)?.gesturesCarryNoCount === true;
  /** The items a card message shows: those recorded on it (never added to once sent, if frozen). */
  const shownOn = async (ids: readonly string[], ref: SentRef): Promise<string[]> => {
    const out: string[] = [];
    for (const id of ids) if ((await store.cardRefs(id)).some((c) => sameRef(c.ref, ref))) out.push(id);
    return out;
  };

  async function drawNow(batch: string, flush: boolean): Promise<{ reached: number; waiting: boolean }> {
    const ids = await store.batchItems(batch);
    const views = await Promise.all(ids.map((id) => control.getApproval(id)));
    // The card must show exactly the stored items in order ("Approve all (n)" = the first n).
    if (views.length === 0 || views.some((v) => v === undefined)) {
      log("bot_batch_draw_skipped", { batch, items: ids.length });
      return { reached: 0, waiting: false };
    }
    const all = views as ApprovalView[];
    const latest = all[all.length - 1] as ApprovalView;
    const card = await o.build(batch, all, 0);
    const { approvers, bound } = await o.targets(latest, all);
    const have = new Set<string>();
    // Frozen chats: how far into the batch their messages reach, and whether one reaches them.
    const covered = new Map<string, { to: Address; upto: number; approver: boolean }>();
    let reached = 0;
    for (const c of await store.batchCards(batch)) {
      have.add(key(c.to));
      const isFrozen = frozen(c.ref.platform);
      const shown = isFrozen ? await shownOn(ids, c.ref) : ids;
      if (shown.length === 0) continue;
      const from = ids.indexOf(shown[0] as string);
      const drawn = isFrozen
        ? await o.build(
            batch,
            shown.map((id) => all[ids.indexOf(id)] as ApprovalView),
            from,
          )
        : card;
      try {
        await channels.get(c.ref.platform)?.updateCard(c.ref, drawn);
      } catch (err) {
        log("bot_card_update_failed", { batch, platform: c.ref.platform, error: (err as Error).name });
        continue;
      }
      await store.setBatchCard(batch, c.to, c.ref, shown.length);
      if (!isFrozen) for (const id of ids) await store.addCardRef(id, c.to, c.ref);
      else {
        const k = key(c.to);
        const upto = Math.max(covered.get(k)?.upto ?? 0, from + shown.length);
        covered.set(k, { to: c.to, upto, approver: approvers.has(k) });
      }
      if (approvers.has(key(c.to))) reached++;
    }
    // Nothing waits any more: no new messages, only the redraws above.
    if (!all.some((v) => v.state === "pending")) return { reached, waiting: false };
    // Frozen chats with items past their messages: a new message with those, once the window closes.
    let waiting = false;
    for (const { to, upto, approver } of covered.values()) {
      const rest = all.slice(upto);
      if (!rest.some((v) => v.state === "pending")) continue;
      if (!flush && ids.length < maxItems) {
        waiting = true;
        continue; // `reached` already counts this chat: its waiting send will show the rest
      }
      const channel = channels.get(to.platform);
      try {
        const late = await o.build(batch, rest, upto);
        const ref = await channel?.sendCard(to, late).catch(async (err: unknown) => {
          await o.undeliverable?.(batch, to, err, late);
          throw err;
        });
        if (!ref) continue;
        await store.setBatchCard(batch, to, ref, rest.length);
        for (const id of ids.slice(upto)) await store.addCardRef(id, to, ref);
      } catch (err) {
        log("bot_card_send_failed", { batch, platform: to.platform, error: (err as Error).name });
        if (approver) reached--;
      }
    }
    const fresh = [...approvers].filter(([k]) => !have.has(k)).map(([, to]) => ({ to, approver: true }));
    for (const to of bound)
      if (!have.has(key(to)) && !approvers.has(key(to))) fresh.push({ to, approver: false });
    for (const { to, approver } of fresh) {
      const channel = channels.get(to.platform);
      if (!channel) continue;
      try {
        const ref = await channel.sendCard(to, card);
        await store.setBatchCard(batch, to, ref, ids.length);
        for (const id of ids) await store.addCardRef(id, to, ref);
        if (approver) reached++;
      } catch (err) {
        log("bot_card_send_failed", { batch, platform: to.platform, error: (err as Error).name });
        await o.undeliverable?.(batch, to, err, card);
      }
    }
    return { reached, waiting };
  }

  /** (Re)starts the window for `batch`'s waiting items when it grew; a quiet window flushes them. */
  async function wait(batch: string, waiting: boolean): Promise<void> {
    if (!waiting) {
      waits.get(batch)?.cancel();
      waits.delete(batch);
      return;
    }
    const size = (await store.batchItems(batch)).length;
    // Read after the await: the timer may have fired (and removed itself) meanwhile.
    const w = waits.get(batch);
    if (w && w.size === size) return;
    w?.cancel();
    const cancel = schedule(
      () => {
        if (waits.get(batch)?.cancel !== cancel) return;
        waits.delete(batch);
        void draw(batch, true).catch(() => undefined);
      },
      Math.max(1, windowMs),
    );
    waits.set(batch, { cancel, size });
  }

  /**
   * Redraws `batch` everywhere. Draws run one at a time per batch; a call made while one runs waits
   * for the next, which draws everything up to then (so it includes the caller's item).
   */
  function draw(batch: string, flush = false): Promise<number> {
    let st = runs.get(batch);
    if (!st) {
      st = { chain: Promise.resolve(), wanted: 0, done: 0, last: 0, flush: false };
      runs.set(batch, st);
    }
    const s = st;
    if (flush) s.flush = true;
    const gen = ++s.wanted;
    const p = s.chain.then(async () => {
      if (s.done >= gen) return s.last;
      const upto = s.wanted;
      const flushing = s.flush;
      s.flush = false;
      const out = await drawNow(batch, flushing);
      s.last = out.reached;
      s.done = upto;
      await wait(batch, out.waiting);
      return s.last;
    });
    s.chain = p.catch(() => undefined);
    void s.chain.then(() => {
      if (s.done === s.wanted && runs.get(batch) === s) runs.delete(batch);
    });
    return p;
  }

  return {
    draw(batch: string): Promise<number> {
      return draw(batch);
    },

    /**
     * Draws `batch` now with its waiting items sent at once (the window's timer lived in memory and a
     * restart lost it). Idempotent: a chat's items already on a message are never sent again.
     */
    flush(batch: string): Promise<number> {
      return draw(batch, true);
    },

    /** Cancels every window timer (the bot stops). */
    stop(): void {
      for (const w of waits.values()) w.cancel();
      waits.clear();
    },

    /**
     * An "Approve all" / "Deny all" tap: valid only on a message drawn for that batch, for items that
     * exist; votes on each of the first `count` items still waiting, through the tap's own path. On a
     * frozen message (a gesture with no count) it covers exactly the items that message shows.
     */
    async tapAll(event: InboundAction, action: BatchAction): Promise<string> {
      const drawnOn = await store.batchOfCardRef(event.ref);
      const ids = await store.batchItems(action.batch);
      if (drawnOn?.batch !== action.batch || action.count > ids.length) {
        log("bot_action_refused", { by: event.from.id, reason: "unknown_card" });
        return "This button is not valid.";
      }
      // Never an item the message does not show (defence in depth on every platform).
      const shown = new Set(await shownOn(ids, event.ref));
      const covers = frozen(event.ref.platform)
        ? ids.filter((id) => shown.has(id))
        : ids.slice(0, action.count).filter((id) => shown.has(id));
      const tally = new Map<string, number>();
      for (const id of covers) {
        const view = await control.getApproval(id);
        if (view?.state !== "pending") continue;
        const answer = await o.decide(event.from.id, view, action.action);
        tally.set(answer, (tally.get(answer) ?? 0) + 1);
      }
      if (tally.size === 0) return "Already decided";
      if (tally.size === 1 && tally.has(NOT_APPROVER)) return "You are not an approver for these requests";
      const n = frozen(event.ref.platform) ? covers.length : action.count;
      return [...tally]
        .map(([answer, k]) => `${answer.replace(/\.$/, "")}: ${k} of ${n} requests`)
        .join("; ");
    },
  };
}

export type BatchDrawer = ReturnType<typeof createBatchDrawer>;
