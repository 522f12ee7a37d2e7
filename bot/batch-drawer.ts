/**
 * Draws batch cards and takes their "Approve all" / "Deny all" taps (the chat approver's batching
 * path; bot/batches.ts decides membership, bot/batch-cards.ts builds the card). A draw puts the
 * batch's current state on every message it already has and sends it to approvers (and bound
 * chats) who have none yet; draws of one batch run one at a time and coalesce, so 12 arrivals in
 * two seconds cost a few edits, not 12 cards. Untrusted: the tapped message and button data (the
 * tap must arrive on a message drawn for that very batch, its count must name items that exist) and
 * the tapper (each vote goes through the same gateway check as a single tap, refusals audited there).
 */
import type { ApprovalView, Log } from "../gateway/index.js";
import type { BatchAction } from "./batch-cards.js";
import type { BotStore } from "./bot-store.js";
import type { Address, Card, Channel, InboundAction } from "./channel.js";
import type { ControlPort } from "./control-port.js";

export interface BatchDrawerOptions {
  readonly channels: ReadonlyMap<string, Channel>;
  readonly control: ControlPort;
  readonly store: BotStore;
  readonly log: Log;
  readonly build: (batch: string, views: readonly ApprovalView[]) => Card;
  /** The approvers' private chats for the batch (keyed; `view` is its latest item), and bound chats. */
  readonly targets: (
    view: ApprovalView,
    all: readonly ApprovalView[],
  ) => { approvers: Map<string, Address>; bound: Address[] };
  /** Casts `from`'s vote as a tap would and returns the tap's answer. */
  readonly decide: (from: string, view: ApprovalView, action: "approve" | "deny") => string;
}

const NOT_APPROVER = "You are not an approver for this request";
const key = (a: Address): string => `${a.platform}\u0000${a.chatId}\u0000${a.threadId ?? ""}`;

/** Creates the drawer; `draw(batch)` resolves with how many approver chats show the batch. */
export function createBatchDrawer(o: BatchDrawerOptions) {
  const { channels, control, store, log } = o;
  const runs = new Map<string, { chain: Promise<unknown>; wanted: number; done: number; last: number }>();

  async function drawNow(batch: string): Promise<number> {
    const ids = store.batchItems(batch);
    const views = ids.map((id) => control.getApproval(id));
    // The card must show exactly the stored items in order ("Approve all (n)" = the first n).
    if (views.length === 0 || views.some((v) => v === undefined)) {
      log("bot_batch_draw_skipped", { batch, items: ids.length });
      return 0;
    }
    const all = views as ApprovalView[];
    const latest = all[all.length - 1] as ApprovalView;
    const card = o.build(batch, all);
    const { approvers, bound } = o.targets(latest, all);
    const have = new Set<string>();
    let reached = 0;
    for (const c of store.batchCards(batch)) {
      have.add(key(c.to));
      try {
        await channels.get(c.ref.platform)?.updateCard(c.ref, card);
      } catch (err) {
        log("bot_card_update_failed", { batch, platform: c.ref.platform, error: (err as Error).name });
        continue;
      }
      store.setBatchCard(batch, c.to, c.ref, ids.length);
      for (const id of ids) store.addCardRef(id, c.to, c.ref);
      if (approvers.has(key(c.to))) reached++;
    }
    // Nothing waits any more: no new messages, only the redraws above.
    if (!all.some((v) => v.state === "pending")) return reached;
    const fresh = [...approvers].filter(([k]) => !have.has(k)).map(([, to]) => ({ to, approver: true }));
    for (const to of bound)
      if (!have.has(key(to)) && !approvers.has(key(to))) fresh.push({ to, approver: false });
    for (const { to, approver } of fresh) {
      const channel = channels.get(to.platform);
      if (!channel) continue;
      try {
        const ref = await channel.sendCard(to, card);
        store.setBatchCard(batch, to, ref, ids.length);
        for (const id of ids) store.addCardRef(id, to, ref);
        if (approver) reached++;
      } catch (err) {
        log("bot_card_send_failed", { batch, platform: to.platform, error: (err as Error).name });
      }
    }
    return reached;
  }

  return {
    /**
     * Redraws `batch` everywhere. Draws run one at a time per batch; a call made while one runs waits
     * for the next, which draws everything up to then (so it includes the caller's item).
     */
    draw(batch: string): Promise<number> {
      let st = runs.get(batch);
      if (!st) {
        st = { chain: Promise.resolve(), wanted: 0, done: 0, last: 0 };
        runs.set(batch, st);
      }
      const s = st;
      const gen = ++s.wanted;
      const p = s.chain.then(async () => {
        if (s.done >= gen) return s.last;
        const upto = s.wanted;
        s.last = await drawNow(batch);
        s.done = upto;
        return s.last;
      });
      s.chain = p.catch(() => undefined);
      void s.chain.then(() => {
        if (s.done === s.wanted && runs.get(batch) === s) runs.delete(batch);
      });
      return p;
    },

    /**
     * An "Approve all" / "Deny all" tap: valid only on a message drawn for that batch, for items that
     * exist; votes on each of the first `count` items still waiting, through the tap's own path.
     */
    tapAll(event: InboundAction, action: BatchAction): string {
      const drawnOn = store.batchOfCardRef(event.ref);
      const ids = store.batchItems(action.batch);
      if (drawnOn?.batch !== action.batch || action.count > ids.length) {
        log("bot_action_refused", { by: event.from.id, reason: "unknown_card" });
        return "This button is not valid.";
      }
      const tally = new Map<string, number>();
      for (const id of ids.slice(0, action.count)) {
        const view = control.getApproval(id);
        if (view?.state !== "pending") continue;
        const answer = o.decide(event.from.id, view, action.action);
        tally.set(answer, (tally.get(answer) ?? 0) + 1);
      }
      if (tally.size === 0) return "Already decided";
      if (tally.size === 1 && tally.has(NOT_APPROVER)) return "You are not an approver for these requests";
      return [...tally]
        .map(([answer, n]) => `${answer.replace(/\.$/, "")}: ${n} of ${action.count} requests`)
        .join("; ");
    },
  };
}

export type BatchDrawer = ReturnType<typeof createBatchDrawer>;
