/**
 * The gateway's `Approver`, in chat. Untrusted: button taps (who tapped is vouched for by the
 * platform; the data and message are not). We guarantee: a card goes only to allowed approvers' private
 * chats and to chats bound to the agent; if no approver can be reached, `requested` throws and the
 * gateway denies. A tap counts only if its data parses strictly, names an approval we sent a card for,
 * and arrives on one of the very messages we sent for it; the gateway then decides whether the tapper
 * (or one of their linked identities) is an allowed approver. Refusals change nothing. The web chat's
 * full-request page (`<web>/approvals/<id>`) shows a held request only to someone who may decide it
 * (the same test a tap's vote passes), and its buttons decide through the same path as a tap.
 */
import type { ApprovalView, Approver, Log, RoleResolver, SecurityAlert } from "../gateway/index.js";
import {
  annotateCard,
  createApproverRouting,
  peopleToRemind,
  type RouteTarget,
  reminderText,
} from "./approver-routing.js";
import { buildBatchCard, parseBatchAction } from "./batch-cards.js";
import { createBatchDrawer } from "./batch-drawer.js";
import { createBatches, DEFAULT_BATCH_WINDOW_MS } from "./batches.js";
import type { BotStore, Person, Role } from "./bot-store.js";
import { buildCard, type CardActionKind, parseCardAction, parseCardVerb } from "./cards.js";
import type { Address, Card, Channel, InboundAction } from "./channel.js";
import type { ControlPort, HeldRequest } from "./control-port.js";
import { roleAtLeast } from "./roles.js";
import { createUndeliverableNotice } from "./undeliverable-notice.js";

export interface ChatApproverOptions {
  readonly channels: ReadonlyMap<string, Channel>;
  readonly control: ControlPort;
  readonly store: BotStore;
  readonly roles: RoleResolver;
  readonly log: Log;
  readonly now?: () => number;
  /** The web chat's base URL: cards link to `<base>/approvals/<id>`. Absent: cards carry no link. */
  readonly webBase?: () => string | undefined;
  /** Held requests of one agent and policy this close together share a card (bot/batches.ts); 0: never. */
  readonly batchWindowMs?: number;
  /** Timers for cards waiting out quiet hours (tests pass a fake clock's); default unref'd setTimeout. */
  readonly schedule?: (fn: () => void, ms: number) => () => void;
}

/** What the full-request page shows: the card's facts and, while it is held, the whole request. */
export type FullRequestView =
  | { readonly kind: "ok"; readonly view: ApprovalView; readonly card: Card; readonly request?: HeldRequest }
  | { readonly kind: "forbidden" }
  | { readonly kind: "not_found" };

/** An `Approver` that also handles the taps on the cards it sent. */
export interface ChatApprover extends Required<Approver> {
  handleAction(event: InboundAction): Promise<void>;
  /** The full-request page for `who` (`<platform>:<userId>`): only for people who may decide it. */
  fullRequest(who: string, approvalId: string): Promise<FullRequestView>;
  /** A decision from the full-request page: the same path (and answers) as a tap on a card. */
  decideFromPage(who: string, approvalId: string, action: CardActionKind): Promise<string>;
  /** The private chat to reach a person on, preferring their chosen platform. */
  dmOf(person: Person): Promise<Address | undefined>;
  /**
   * After a restart (call once approvals are resumed): re-establishes the sends that waited in
   * memory, i.e. quiet-hours cards (sent now if the hours ended, else re-scheduled) and WhatsApp
   * batch items waiting for their window. Idempotent: a chat that has a card for an approval never
   * gets a second.
   */
  resume(): Promise<void>;
  /** Cancels the timers of cards waiting in memory (the bot stops). */
  stop(): void;
}

const key = (a: Address): string => `${a.platform}\u0000${a.chatId}\u0000${a.threadId ?? ""}`;

/** Creates the chat approver. */
/** How many times (50 ms apart) a bare verb waits for its card's ref to be recorded: 2 s. */
const CARD_RECORD_WAITS = 40;

export function createChatApprover(opts: ChatApproverOptions): ChatApprover {
  const { channels, control, store, roles, log } = opts;
  /**
   * People's names for the ids a card names (voters, escalatees), read before it is built: the card
   * builders are synchronous and the store is not. An id nobody is linked to shows as itself.
   */
  async function namesFor(views: readonly ApprovalView[]): Promise<(id: string) => string> {
    const names = new Map<string, string>();
    for (const v of views)
      for (const id of [...v.approvals, ...(v.deniedBy ? [v.deniedBy] : []), ...(v.escalatedTo ?? [])])
        if (!id.startsWith("role:") && !names.has(id)) names.set(id, (await store.personOf(id))?.name ?? id);
    return (id) => names.get(id) ?? id;
  }
  // Quiet hours and escalation (bot/approver-routing.ts): whose card waits, and the lines saying so.
  const routing = createApproverRouting({
    quietOf: (person) => store.quietOf(person),
    now: opts.now ?? Date.now,
    schedule: opts.schedule,
    deliver: (id, to) => deliverLate(id, to),
  });
  const card = async (view: ApprovalView): Promise<Card> => {
    const nameOf = await namesFor([view]);
    return annotateCard(buildCard(view, { now: opts.now, nameOf, webBase: opts.webBase?.() }), view, {
      quiet: routing.notes(view.id),
      nameOf,
    });
  };

  async function dmOfIdentity(identity: string): Promise<Address | undefined> {
    const colon = identity.indexOf(":");
    const channel = channels.get(identity.slice(0, colon));
    // No private chats there (GitHub, Linear): the person is reached through another identity.
    if (colon <= 0 || !channel || channel.noPrivateChats) return undefined;
    return (await store.privateChatOf(identity)) ?? channel.privateChat(identity.slice(colon + 1));
  }

  async function dmOf(person: Person): Promise<Address | undefined> {
    const ids = await store.identitiesOf(person.id);
    const ordered = [...ids.filter((i) => i.startsWith(`${person.preferred}:`)), ...ids];
    for (const id of ordered) {
      const a = await dmOfIdentity(id);
      if (a) return a;
    }
    return undefined;
  }

  /** The approvers' private chats to send a card to now; those in quiet hours wait (routing). */
  async function approverChats(
    view: ApprovalView,
    entries: readonly string[] = view.approvers,
  ): Promise<Map<string, Address>> {
    const out = new Map<string, RouteTarget>();
    const add = (a: Address | undefined, person?: Person): void =>
      void (a && out.set(key(a), { address: a, ...(person && { person }) }));
    for (const entry of entries) {
      if (entry.startsWith("role:")) {
        const role = entry.slice(5);
        for (const p of await store.listPeople())
          if (isRole(role) && roleAtLeast(p.role, role)) add(await dmOf(p), p);
        continue;
      }
      // An explicit id on a platform we do not run: reach the same person where they are.
      const person = await store.personOf(entry);
      add((await dmOfIdentity(entry)) ?? (person && (await dmOf(person))), person);
    }
    // A chat that already shows the card keeps it (someone who went quiet since is not "waiting").
    const shown = new Set((await store.cardRefs(view.id)).map((c) => key(c.to)));
    const sent = [...out.values()].filter((t) => shown.has(key(t.address)));
    const routed = await routing.route(
      view.id,
      [...out.values()].filter((t) => !shown.has(key(t.address))),
    );
    for (const t of sent) routed.set(key(t.address), t.address);
    return routed;
  }

  /** Whether a card for `approval` already went to `to`. */
  async function hasCardIn(approval: string, to: Address): Promise<boolean> {
    return (await store.cardRefs(approval)).some((c) => key(c.to) === key(to));
  }

  /** A card that waited out its approver's quiet hours: sent if the request still waits. */
  async function deliverLate(id: string, to: Address): Promise<void> {
    const view = await control.getApproval(id);
    if (view?.state !== "pending" || (await hasCardIn(id, to))) return;
    const batch = await batches.of(id);
    if (batch) await drawer.draw(batch);
    else if (await send(id, to, view)) await refresh(view);
  }

  async function refresh(view: ApprovalView): Promise<void> {
    const refs = await store.cardRefs(view.id);
    if (refs.length === 0) return;
    const drawn = await card(view);
    for (const { ref } of refs) {
      const channel = channels.get(ref.platform);
      await channel?.updateCard(ref, drawn).catch((err: unknown) => {
        log("bot_card_update_failed", {
          approval: view.id,
          platform: ref.platform,
          error: (err as Error).name,
        });
      });
    }
  }

  const undeliverable = createUndeliverableNotice({ channels, store, dmOfIdentity, log });

  async function send(approval: string, to: Address, view: ApprovalView): Promise<boolean> {
    const channel = channels.get(to.platform);
    if (!channel) return false;
    try {
      const c = await card(view);
      await store.addCardRef(approval, to, await channel.sendCard(to, c));
      return true;
    } catch (err) {
      log("bot_card_send_failed", { approval, platform: to.platform, error: (err as Error).name });
      await undeliverable(approval, to, err, await card(view));
      return false;
    }
  }

  async function reply(event: InboundAction, text: string): Promise<void> {
    await event.reply(text).catch(() => undefined);
  }

  // Batching (DESIGN §6): every held request joins a batch (a batch of one is a single card).
  const batches = createBatches({
    store,
    windowMs: opts.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
    now: opts.now ?? Date.now,
    isPending: async (id) => (await control.getApproval(id))?.state === "pending",
  });
  const drawer = createBatchDrawer({
    channels,
    control,
    store,
    log,
    build: async (batch, views, from) => {
      const nameOf = await namesFor(views);
      return annotateCard(
        buildBatchCard(batch, views, { now: opts.now, nameOf, webBase: opts.webBase?.() }, from),
        { state: "pending", escalatedTo: [...new Set(views.flatMap((v) => v.escalatedTo ?? []))] },
        { quiet: views.flatMap((v) => (v.state === "pending" ? routing.notes(v.id) : [])), nameOf },
      );
    },
    // Escalation (DESIGN §4) adds people for an item still waiting: they get the batch card too.
    targets: async (view, all) => {
      const added = all.filter((v) => v.state === "pending").flatMap((v) => v.escalatedTo ?? []);
      const entries = [...new Set([...view.approvers, ...added])];
      return { approvers: await approverChats(view, entries), bound: await store.bindingsOf(view.agent) };
    },
    decide: (from, view, action) => decide(from, view, action),
    windowMs: opts.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS,
    schedule: opts.schedule,
    undeliverable,
  });

  return {
    dmOf,

    async resume(): Promise<void> {
      const flushed = new Set<string>();
      for (const view of await control.listApprovals("pending")) {
        const batch = await batches.of(view.id);
        if (batch) {
          // One flush per batch: it sends what each chat lacks and re-holds quiet people's cards.
          if (!flushed.has(batch)) {
            flushed.add(batch);
            await drawer.flush(batch);
          }
          continue;
        }
        let sent = false;
        for (const to of (await approverChats(view)).values())
          if (!(await hasCardIn(view.id, to))) sent = (await send(view.id, to, view)) || sent;
        // The cards already out say again whose card waits (those lines were in memory too).
        if (sent || routing.waits(view.id)) await refresh(view);
      }
      log("bot_cards_resumed", { batches: flushed.size });
    },

    stop(): void {
      routing.stop();
      drawer.stop();
    },

    async requested(view: ApprovalView): Promise<void> {
      const joined = await batches.join(view);
      if (joined.kind === "batch") {
        const reached = await drawer.draw(joined.batch);
        log("bot_approval_sent", {
          approval: view.id,
          agent: view.agent,
          reached,
          batchItem: joined.seq + 1,
        });
        if (reached === 0 && !routing.waits(view.id))
          throw new Error(`no approver for approval ${view.id} could be reached`);
        return;
      }
      const approvers = await approverChats(view);
      let reached = 0;
      for (const to of approvers.values()) if (await send(view.id, to, view)) reached++;
      for (const to of await store.bindingsOf(view.agent))
        if (!approvers.has(key(to))) await send(view.id, to, view);
      log("bot_approval_sent", { approval: view.id, agent: view.agent, reached });
      // Fail closed: a card nobody who may decide can see is a request nobody can approve. A card
      // waiting out its approver's quiet hours will be seen: the request waits for it (or expires).
      if (reached === 0 && !routing.waits(view.id))
        throw new Error(`no approver for approval ${view.id} could be reached`);
    },

    async updated(view: ApprovalView): Promise<void> {
      if (view.state !== "pending") routing.settle(view.id);
      const batch = await batches.of(view.id);
      if (batch) return void (await drawer.draw(batch));
      await refresh(view);
    },

    async escalated(view: ApprovalView): Promise<void> {
      // Cards for the people added (a batch draw sends its card to approvers who have none yet).
      const batch = await batches.of(view.id);
      if (batch) return void (await drawer.draw(batch));
      let reached = 0;
      for (const to of (await approverChats(view, view.escalatedTo ?? [])).values())
        if (!(await hasCardIn(view.id, to)) && (await send(view.id, to, view))) reached++;
      log("bot_approval_escalated", { approval: view.id, agent: view.agent, reached });
    },

    async remind(view: ApprovalView): Promise<void> {
      // A short DM to each approver who has not voted (and is not in quiet hours): card and link.
      const now = (opts.now ?? Date.now)();
      const text = reminderText(await card(view), Date.parse(view.expiresAt) - now);
      const people = await peopleToRemind(view, {
        store,
        now,
        holds: (p, role) => isRole(role) && roleAtLeast(p.role, role),
      });
      for (const p of people) {
        const to = await dmOf(p);
        await (to && channels.get(to.platform)?.sendText(to, text))?.catch(() => undefined);
      }
    },

    async alert(event: SecurityAlert): Promise<void> {
      const text = `Security alert (${event.kind}): agent ${event.agent}, host ${event.host}. ${event.message}`;
      for (const owner of (await store.listPeople()).filter((p) => p.role === "owner")) {
        const to = await dmOf(owner);
        await (to && channels.get(to.platform)?.sendText(to, text.slice(0, 2000)))?.catch(() => undefined);
      }
    },

    async handleAction(event: InboundAction): Promise<void> {
      const verb = parseCardVerb(event.data);
      // A bare verb on a batch card of several (WhatsApp) covers exactly the items on that message (frozen once sent).
      const onBatch = verb ? await store.batchOfCardRef(event.ref) : undefined;
      if (verb === "grant" && onBatch && onBatch.drawn > 1)
        return reply(event, "A time-limited approval is given per request, on its own buttons.");
      const all =
        parseBatchAction(event.data) ??
        (onBatch && onBatch.drawn > 1
          ? { batch: onBatch.batch, count: onBatch.drawn, action: verb === "deny" ? "deny" : "approve" }
          : undefined);
      if (all) return reply(event, await drawer.tapAll(event, all));
      // A gesture can arrive (a reaction over /sync) before the send that made its card returned and
      // the card's ref was stored: a bare verb on an unknown message waits a moment for that record.
      let byRef = verb ? await store.approvalOfCardRef(event.ref) : undefined;
      for (let i = 0; verb && !byRef && i < CARD_RECORD_WAITS; i++) {
        await new Promise((r) => setTimeout(r, 50));
        byRef = await store.approvalOfCardRef(event.ref);
      }
      const parsed =
        parseCardAction(event.data) ?? (verb && byRef ? { approvalId: byRef, action: verb } : undefined);
      const view = parsed ? await control.getApproval(parsed.approvalId) : undefined;
      const sentHere =
        view !== undefined &&
        (await store.cardRefs(view.id)).some(
          ({ ref }) =>
            ref.platform === event.ref.platform &&
            ref.chatId === event.ref.chatId &&
            ref.messageId === event.ref.messageId,
        );
      if (!parsed || !view || !sentHere) {
        log("bot_action_refused", { by: event.from.id, reason: !parsed ? "bad_data" : "unknown_card" });
        return reply(event, "This button is not valid.");
      }
      return reply(event, await decide(event.from.id, view, parsed.action));
    },

    async fullRequest(who: string, approvalId: string): Promise<FullRequestView> {
      const view = await control.getApproval(approvalId);
      if (!view) return { kind: "not_found" };
      if (!(await mayDecide(who, view))) {
        log("bot_full_request_refused", { by: who, approval: view.id });
        return { kind: "forbidden" };
      }
      const request = view.state === "pending" ? await control.heldRequest?.(view.id) : undefined;
      return { kind: "ok", view, card: await card(view), ...(request ? { request } : {}) };
    },

    async decideFromPage(who: string, approvalId: string, action: CardActionKind): Promise<string> {
      const view = await control.getApproval(approvalId);
      if (!view) return "This request no longer exists.";
      return decide(who, view, action);
    },
  };

  /** Casts `from`'s vote (as the identity voterId picks) and says what happened, as a tap's reply. */
  async function decide(from: string, view: ApprovalView, action: CardActionKind): Promise<string> {
    const out = await control.decide(view.id, {
      decision: action === "deny" ? "deny" : "approve",
      by: await voterId(from, view),
      scope: action === "grant" ? "grant" : "once",
    });
    if (out.ok) {
      const a = out.approval;
      if (a.state === "pending") return `Counted: ${a.approvals.length} of ${a.needed} approvals.`;
      return a.state === "denied" ? "Denied." : "Approved.";
    }
    if (out.status === 403) return "You are not an approver for this request";
    if (out.status === 409 && (await control.getApproval(view.id))?.state === "expired") return "Expired";
    if (out.status === 409)
      return out.code === "already_voted" ? "You already voted on this request" : "Already decided";
    if (out.status === 404) return "This request no longer exists.";
    return out.status === 400 ? "This rule offers no time-limited approval." : "Could not record that.";
  }

  /** The identities one person votes as: all their linked ones, or just `from` for a stranger. */
  async function candidatesOf(from: string): Promise<string[]> {
    const person = await store.personOf(from);
    return person ? (await store.identitiesOf(person.id)).sort() : [from];
  }

  /** Whether the gateway would count `id`'s vote on `view` (an explicit id, or a role it holds). */
  async function allowed(id: string, view: ApprovalView): Promise<boolean> {
    for (const a of view.approvers) {
      if (a.startsWith("role:")) {
        // Only a resolved `true` counts (never a truthy Promise): fail closed on anything else.
        if ((await roles.hasRole(id, a.slice(5))) === true) return true;
      } else if (a === id) return true;
    }
    return false;
  }

  /** Whether `from` (or an identity linked to them) may decide `view`: who may see the full request. */
  async function mayDecide(from: string, view: ApprovalView): Promise<boolean> {
    for (const id of await candidatesOf(from)) if (await allowed(id, view)) return true;
    return false;
  }

  /** The identity the vote is cast as: the tapper's own, or a linked one the policy names. */
  async function voterId(from: string, view: ApprovalView): Promise<string> {
    // One person is one voter: always the same identity, whichever platform they tap on, so linked
    // accounts can never make up a quorum on their own.
    const candidates = await candidatesOf(from);
    const voted = candidates.find((id) => view.approvals.includes(id) || view.deniedBy === id);
    if (voted) return voted;
    // No candidate allowed: vote as the tapper so the gateway refuses and audits it.
    for (const id of candidates) if (await allowed(id, view)) return id;
    return from;
  }
}

function isRole(s: string): s is Role {
  return s === "member" || s === "approver" || s === "admin" || s === "owner";
}
