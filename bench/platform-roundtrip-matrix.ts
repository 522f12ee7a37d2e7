/**
 * The Matrix approval round trip for `npm run bench` (#12): `matrixDriver()` is an `ApprovalDriver`
 * (bench/approval-drivers.ts) for `measureDriver` (bench/approval.ts): the real Matrix channel
 * (matrix-js-sdk /sync long polling) against our fake homeserver on 127.0.0.1. A held request's card
 * reaches the owner's DM as a notice; the tap is the owner's ✅ reaction on it, delivered through
 * the held /sync, to the request's release upstream. No assertions: it reports.
 */
import { createMatrixChannel } from "../bot/channels/matrix/index.js";
import { startFakeHomeserver } from "../test/fakes/matrix-homeserver.js";
import type { ApprovalDriver } from "./approval-drivers.js";

async function poll<T>(f: () => T | undefined, what: string): Promise<T> {
  const end = Date.now() + 15_000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export async function matrixDriver(): Promise<ApprovalDriver> {
  const hs = await startFakeHomeserver();
  const owner = hs.mxid("olive");
  const channel = createMatrixChannel({ homeserverUrl: hs.baseUrl, accessToken: hs.token, userId: hs.botId });
  const seen = new Set<string>();
  /** A card (a notice with the reaction prompt, not an edit) in the owner's DM not seen before. */
  const nextCardEvent = () =>
    hs
      .dmRoomsOf(owner)
      .flatMap((room) => hs.eventsIn(room))
      .find(
        (e) =>
          e.sender === hs.botId &&
          e.type === "m.room.message" &&
          !seen.has(e.event_id) &&
          e.content["m.relates_to"] === undefined &&
          String(e.content.body ?? "").includes("Decide by reacting"),
      );
  return {
    name: "Matrix (matrix-js-sdk, ✅ reaction via /sync)",
    channel,
    owner: { identity: `matrix:${owner}`, chat: channel.privateChat(owner) },
    async nextCard() {
      const card = await poll(nextCardEvent, "a Matrix card");
      seen.add(card.event_id);
      // Wait for the seeded ✅ too: a person reacts to what they see.
      await poll(() => (hs.botReactionsOn(card.event_id).includes("✅") ? true : undefined), "the seeded ✅");
      return () => void hs.react(card.room_id, owner, card.event_id, "✅");
    },
    close: () => hs.close(),
  };
}
