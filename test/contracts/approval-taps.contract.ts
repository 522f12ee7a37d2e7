/**
 * The adversarial approval cases, run through each real channel (real SDK, fake platform server)
 * with the REAL approvals engine behind the bot: a stranger's or member's tap, a tap on a message
 * that carried no card, a double tap, a tap after expiry, two approvers racing on a quorum of 2.
 * The harness turns "tap" into the platform's own gesture (button click, reaction, keyword reply).
 */
import { afterEach, describe, expect, it } from "vitest";
import { batchActionData } from "../../bot/batch-cards.js";
import { actionData } from "../../bot/cards.js";
import type { Address, Channel, SentRef } from "../../bot/channel.js";
import { type BotWorld, createBotWorld, settle } from "../bot/bot-world.js";

export interface TapHarness {
  readonly channel: Channel;
  /**
   * Makes the platform deliver `userId`'s gesture for the button `data` on the message `ref`
   * (WhatsApp: the reaction or keyword for its verb); resolves with what the platform then showed
   * only to that person (callback answer, ephemeral, DM), at least one text.
   */
  tap(userId: string, ref: SentRef, data: string): Promise<string[]>;
  /** How many buttons (or open approval prompts) the platform shows on `ref` now. */
  buttonsOn(ref: SentRef): Promise<number> | number;
  /** Everything the platform shows on `ref` now as text (raw markup is fine for a `contains` check). */
  shownText(ref: SentRef): Promise<string> | string;
  /**
   * True where a gesture on a message that carried no card is ordinary chat (WhatsApp: "yes" in
   * reply to any other message). The replay case then only checks that nothing was decided.
   */
  readonly otherGesturesAreChat?: boolean;
  /**
   * True where a gesture carries no data (WhatsApp's reply or reaction): "approve all" then covers
   * the items the card message showed when the gesture arrived, not a count drawn on a button.
   */
  readonly gesturesCarryNoCount?: boolean;
  /**
   * The platform's own form of a user id the suite names ("701"), where ids have a fixed shape
   * (Teams: an Entra object id; Google Chat: `users/<digits>`). Default: the id itself.
   */
  userIdOf?(id: string): string;
  /** A group chat the bot can post in; default `privateChat("group-1")` on platforms that allow any id. */
  groupChat?(): Address;
  /**
   * No private chats (GitHub, Linear): approvers get their private cards on another platform (the
   * suite links each to a `fake:` identity, as an owner would with /link), the agent is bound to
   * `groupChat()` (required) in every case, and every tap is on the card there.
   */
  readonly noPrivateChats?: boolean;
  /**
   * No group chats (WhatsApp Cloud): nothing is bound; a member's or stranger's tap is made on an
   * approver's card, named from their own chat (refused: not valid, or not an approver).
   */
  readonly noGroupChats?: boolean;
  /**
   * No edits (WhatsApp Cloud; Messenger, Instagram, X, Email): the decision follows the card as a
   * message (`followUps`), its buttons may stay, and a late tap decides nothing ("Already decided").
   * A card cannot show later news (an escalation) either.
   */
  readonly noEdits?: boolean;
  /** With `noEdits`: the texts the platform shows in `ref`'s chat after `ref`, oldest first. */
  followUps?(ref: SentRef): Promise<string[]> | string[];
  close?(): Promise<void>;
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + 5000;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Registers the adversarial tap suite for one channel; `make` builds a fresh harness per test. */
export function approvalTapsContract(name: string, make: () => Promise<TapHarness>): void {
  describe(`Approval taps (${name})`, () => {
    let h: TapHarness;
    let w: BotWorld;
    const P = () => h.channel.platform;
    /** Voters as people: someone linked elsewhere votes as any of their identities. */
    const people = async (ids: readonly string[] = []) => {
      const out: string[] = [];
      for (const i of ids) out.push((await w.store.personOf(i))?.id ?? i);
      return out;
    };
    /** The platform's form of one of the suite's user ids ("701"). */
    const U = (id: string): string => h.userIdOf?.(id) ?? id;

    async function setUp(batchWindowMs = 0): Promise<void> {
      h = await make();
      w = createBotWorld({ channels: [h.channel], batchWindowMs });
      await w.bot.start();
      for (const [id, name] of [
        ["701", "Ann"],
        ["702", "Bob"],
      ] as const) {
        const p = await w.store.createPerson(`${P()}:${U(id)}`, name, "approver");
        if (!h.noPrivateChats) continue;
        // Reachable privately elsewhere, as the owner would set it up with /link.
        await w.store.linkIdentity(`fake:${id}`, p.id);
        await w.store.setPreferred(p.id, "fake");
      }
      await w.store.createPerson(`${P()}:${U("709")}`, "Mel", "member");
      if (h.noPrivateChats) await w.store.bind("demo", group());
    }
    /** The bound group chat (the agent's thread where there are no private chats). */
    const group = (): Address => {
      if (h.noPrivateChats && !h.groupChat)
        throw new Error("a harness with noPrivateChats must name groupChat()");
      return h.groupChat?.() ?? { platform: P(), chatId: h.channel.privateChat("group-1").chatId };
    };
    /** Where a case that wants `userId`'s private chat looks: the bound thread without DMs. */
    const chatOf = (userId: string): string =>
      h.noPrivateChats ? group().chatId : h.channel.privateChat(userId).chatId;
    /** The decision shown: buttons gone, or (no edits) a follow-up message saying `word`. */
    const decisionShown = (ref: SentRef, word: string) =>
      h.noEdits
        ? until(`"${word}" after the card`, async () =>
            (await (h.followUps as NonNullable<TapHarness["followUps"]>)(ref)).some((t) => t.includes(word))
              ? true
              : undefined,
          )
        : until("buttons gone", async () => ((await h.buttonsOn(ref)) === 0 ? true : undefined));
    afterEach(async () => {
      await w?.bot.stop();
      await h?.close?.();
    });

    /** The card for `approval` in `userId`'s private chat on this platform (or the bound thread). */
    const cardOf = (approval: string, userId: string): Promise<SentRef> =>
      until(`the card in ${userId}'s private chat`, async () => {
        const chatId = chatOf(userId);
        return (await w.store.cardRefs(approval)).find((c) => c.to.chatId === chatId && c.to.platform === P())
          ?.ref;
      });

    it("an approver's tap approves; the buttons go", async () => {
      await setUp();
      const { view, outcome } = await w.hold();
      const ref = await cardOf(view.id, U("701"));
      expect(await h.buttonsOn(ref)).toBeGreaterThan(0);
      expect(await h.tap(U("701"), ref, actionData(view.id, "approve"))).toEqual(["Approved."]);
      await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
      await decisionShown(ref, "Approved");
      if (h.noEdits) {
        // The buttons may still be there: a late tap is answered and decides nothing more.
        const late = h.noPrivateChats ? ref : await cardOf(view.id, U("702"));
        expect(await h.tap(U("702"), late, actionData(view.id, "approve"))).toEqual(["Already decided"]);
        expect(await people((await w.approvals.get(view.id))?.approvals)).toEqual(
          await people([`${P()}:${U("701")}`]),
        );
      }
    });

    it("refuses a member's and a stranger's tap on the card in a bound group, and audits it", async () => {
      await setUp();
      if (h.noGroupChats) {
        // No groups: the only card is an approver's, and a tap naming it from another chat is no
        // tap on a card sent to that person.
        const { view } = await w.hold();
        const ref = await cardOf(view.id, U("701"));
        for (const who of [U("709"), U("666")])
          expect([
            ["This button is not valid."],
            ["You are not an approver for this request"],
          ]).toContainEqual(await h.tap(who, ref, actionData(view.id, "approve")));
        expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
        return;
      }
      const bound = group();
      await w.store.bind("demo", bound);
      const { view } = await w.hold();
      const ref = await until(
        "the group card",
        async () => (await w.store.cardRefs(view.id)).find((c) => c.to.chatId === bound.chatId)?.ref,
      );
      for (const who of [U("709"), U("666")])
        expect(await h.tap(who, ref, actionData(view.id, "approve"))).toEqual([
          "You are not an approver for this request",
        ]);
      expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
      expect(w.auditLog).toContainEqual(
        expect.objectContaining({ type: "approval_vote_refused", by: `${P()}:${U("709")}` }),
      );
    });

    it("refuses a tap on a message that never carried a card (replay)", async () => {
      await setUp();
      const { view } = await w.hold();
      const other = await h.channel.sendText(
        h.noPrivateChats ? group() : h.channel.privateChat(U("701")),
        "just text",
      );
      const answers = await h.tap(U("701"), other, actionData(view.id, "approve"));
      if (h.otherGesturesAreChat) expect(answers).not.toContain("Approved.");
      else expect(answers).toEqual(["This button is not valid."]);
      expect(await w.approvals.get(view.id)).toMatchObject({ state: "pending", approvals: [] });
    });

    it("counts a double tap once", async () => {
      await setUp();
      const { view } = await w.hold({ needed: 2 });
      const ref = await cardOf(view.id, U("701"));
      const data = actionData(view.id, "approve");
      expect(await h.tap(U("701"), ref, data)).toEqual(["Counted: 1 of 2 approvals."]);
      expect(await h.tap(U("701"), ref, data)).toEqual(["You already voted on this request"]);
      expect(await people((await w.approvals.get(view.id))?.approvals)).toEqual(
        await people([`${P()}:${U("701")}`]),
      );
    });

    it("answers a tap after expiry with Expired; the buttons go", async () => {
      await setUp();
      const { view, outcome } = await w.hold({ timeoutMs: 60_000 });
      const ref = await cardOf(view.id, U("701"));
      w.clock.t += 61_000;
      expect(await h.tap(U("701"), ref, actionData(view.id, "approve"))).toEqual(["Expired"]);
      await expect(outcome).resolves.toMatchObject({ outcome: "expired" });
      await settle();
      await decisionShown(ref, "Expired");
    });

    it("batches 12 requests held within 2 s onto one card per approver; a member's Approve all changes nothing; Approve all releases exactly the 12 drawn, not a 13th added later", async () => {
      await setUp(5000);
      const bound = group();
      if (!h.noGroupChats) await w.store.bind("demo", bound);
      const held: Awaited<ReturnType<BotWorld["hold"]>>[] = [];
      for (let i = 0; i < 12; i++) {
        held.push(await w.hold());
        w.clock.t += 150; // 12 requests in 1.8 s
      }
      const ids = held.map((x) => x.view.id);
      if (h.gesturesCarryNoCount) return frozenBatch(held, bound);
      const onCards = (chatId: string) =>
        until(`all 12 on the card in ${chatId}`, async () => {
          const refs = [];
          for (const id of ids)
            refs.push(
              (await w.store.cardRefs(id)).filter((c) => c.to.platform === P() && c.to.chatId === chatId),
            );
          return refs.every((r) => r.length > 0)
            ? new Set(refs.flat().map((c) => c.ref.messageId))
            : undefined;
        });
      for (const chat of new Set([
        chatOf(U("701")),
        chatOf(U("702")),
        ...(h.noGroupChats ? [] : [bound.chatId]),
      ]))
        expect((await onCards(chat)).size).toBe(1); // at most one card per approver (and bound chat)
      const ref = await cardOf(ids[0] as string, U("701"));
      const groupRef = h.noGroupChats
        ? ref
        : await until(
            "the group card",
            async () =>
              (await w.store.cardRefs(ids[0] as string)).find((c) => c.to.chatId === bound.chatId)?.ref,
          );
      const batch = (await w.store.batchOf(ids[0] as string)) as string;
      const drawn = async (r: SentRef) => (await w.store.batchOfCardRef(r))?.drawn;
      await until("12 drawn", async () =>
        (await drawn(ref)) === 12 && (await drawn(groupRef)) === 12 ? true : undefined,
      );
      const allTwelve = batchActionData(batch, 12, "approve");

      // A member's "Approve all" on the group card: refused privately, audited, nothing counted.
      if (!h.noGroupChats) {
        expect(await h.tap(U("709"), groupRef, allTwelve)).toEqual([
          "You are not an approver for these requests",
        ]);
        expect(
          w.auditLog.filter((e) => e.type === "approval_vote_refused" && e.by === `${P()}:${U("709")}`),
        ).toHaveLength(12);
      }
      for (const id of ids)
        expect(await w.approvals.get(id)).toMatchObject({ state: "pending", approvals: [] });

      // A 13th request joins after the card was drawn with 12.
      w.clock.t += 150;
      const late = await w.hold();
      expect(await w.store.batchOf(late.view.id)).toBe(batch);
      await until("13 drawn", async () => ((await drawn(ref)) === 13 ? true : undefined));
      const answer = await h.tap(U("701"), ref, allTwelve);
      expect(answer).toEqual(["Approved: 12 of 12 requests"]);
      for (const x of held) await expect(x.outcome).resolves.toMatchObject({ outcome: "approved" });
      expect(await w.approvals.get(late.view.id)).toMatchObject({ state: "pending", approvals: [] });
      expect(await h.buttonsOn(ref)).toBeGreaterThan(0); // the 13th keeps its buttons
    });

    /**
     * A gesture with no count (WhatsApp): a card message never gains items once sent, so a 👍 that
     * races a 13th arrival covers only the items on the message it reacts to; later items come on
     * one new message per chat when the window closes.
     */
    async function frozenBatch(held: Awaited<ReturnType<BotWorld["hold"]>>[], group: Address): Promise<void> {
      const ids = held.map((x) => x.view.id);
      const batch = (await w.store.batchOf(ids[0] as string)) as string;
      const ann = chatOf(U("701"));
      const first = await cardOf(ids[0] as string, U("701"));
      const onMessage = async (ref: SentRef) => {
        const out: string[] = [];
        for (const id of await w.store.batchItems(batch))
          if ((await w.store.cardRefs(id)).some((c) => c.ref.messageId === ref.messageId)) out.push(id);
        return out;
      };
      await settle();
      const shownFirst = await onMessage(first);
      expect(shownFirst.length).toBeGreaterThan(0);
      expect(shownFirst.length).toBeLessThan(12); // the later ones wait for the window
      // A 13th request joins the batch after the first message was sent: it never joins that message.
      w.clock.t += 150;
      const late = await w.hold();
      expect(await w.store.batchOf(late.view.id)).toBe(batch);
      await settle();
      expect(await onMessage(first)).toEqual(shownFirst);
      const k = shownFirst.length;
      const answer = await h.tap(U("701"), first, "approve");
      expect(answer).toEqual([k === 1 ? "Approved." : `Approved: ${k} of ${k} requests`]);
      for (const id of [...ids, late.view.id])
        if (shownFirst.includes(id))
          expect(await people((await w.approvals.get(id))?.approvals)).toEqual(
            await people([`${P()}:${U("701")}`]),
          );
        else expect(await w.approvals.get(id)).toMatchObject({ state: "pending", approvals: [] });
      // The window closes: the rest (including the 13th) arrive on ONE new message per chat.
      w.advance(5000);
      const all = [...ids, late.view.id];
      for (const chat of new Set([ann, chatOf(U("702")), ...(h.noGroupChats ? [] : [group.chatId])])) {
        const messages = await until(`all 13 in ${chat}`, async () => {
          const refs = [];
          for (const id of all) refs.push((await w.store.cardRefs(id)).filter((c) => c.to.chatId === chat));
          return refs.every((r) => r.length > 0)
            ? new Set(refs.flat().map((c) => c.ref.messageId))
            : undefined;
        });
        expect(messages.size).toBe(2);
      }
      const second = await until(
        "the second message",
        async () => (await w.store.cardRefs(late.view.id)).find((c) => c.to.chatId === ann)?.ref,
      );
      expect(second.messageId).not.toBe(first.messageId);
      const rest = await onMessage(second);
      expect(rest).toEqual(all.filter((id) => !shownFirst.includes(id)));
      expect(await h.tap(U("701"), second, "approve")).toEqual([
        `Approved: ${rest.length} of ${rest.length} requests`,
      ]);
      for (const x of [...held, late])
        await expect(x.outcome).resolves.toMatchObject({ outcome: "approved" });
    }

    it("escalation: nobody answered in the window (fake clock), the next person gets a card; the first card says Escalated to", async () => {
      await setUp();
      const { view, outcome } = await w.hold({
        approvers: [`${P()}:${U("701")}`],
        timeoutMs: 30 * 60_000,
        escalate: { afterMs: 10 * 60_000, to: [`${P()}:${U("702")}`] },
      });
      const first = await cardOf(view.id, U("701"));
      const bobChat = h.channel.privateChat(U("702")).chatId;
      // Before the window: Bob has no card, and his tap would not count.
      w.advance(10 * 60_000 - 1);
      await settle();
      expect((await w.store.cardRefs(view.id)).some((c) => c.to.chatId === bobChat)).toBe(false);
      w.advance(1);
      const second = await cardOf(view.id, U("702"));
      expect(await h.buttonsOn(second)).toBeGreaterThan(0);
      // A card that cannot be edited cannot say so; Bob's own card is the news there.
      if (!h.noEdits)
        await until("Escalated to on the first card", async () => {
          const text = await h.shownText(first);
          return text.includes("Escalated to") && text.includes("Bob") ? true : undefined;
        });
      expect(w.auditLog).toContainEqual(
        expect.objectContaining({
          type: "approval_escalated",
          approval: view.id,
          to: [`${P()}:${U("702")}`],
        }),
      );
      expect(await h.tap(U("702"), second, actionData(view.id, "approve"))).toEqual(["Approved."]);
      await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
    });

    it("two approvers racing on a quorum of 2 are counted once each; a late tap is already decided", async () => {
      await setUp();
      await w.store.createPerson(`${P()}:${U("703")}`, "Cy", "approver");
      const { view, outcome } = await w.hold({ needed: 2 });
      const data = actionData(view.id, "approve");
      const [a, b] = await Promise.all([
        cardOf(view.id, U("701")).then((ref) => h.tap(U("701"), ref, data)),
        cardOf(view.id, U("702")).then((ref) => h.tap(U("702"), ref, data)),
      ]);
      expect([...a, ...b].sort()).toEqual(["Approved.", "Counted: 1 of 2 approvals."]);
      await expect(outcome).resolves.toMatchObject({ outcome: "approved" });
      expect(await h.tap(U("703"), await cardOf(view.id, U("703")), data)).toEqual(["Already decided"]);
    });
  });
}
