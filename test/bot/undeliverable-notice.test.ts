/**
 * A platform that will not take a card now (a closed 24-hour window: `Undeliverable`) makes the bot
 * tell the owners on another platform, once per card and chat, in Warden's words only; the request
 * stays held (nobody decided it). A plain send failure (a network error) tells nobody.
 */
import { describe, expect, it } from "vitest";
import type { Address, Card, Channel } from "../../bot/channel.js";
import { createFakeChannel } from "../fakes/fake-channel.js";
import { createBotWorld } from "./bot-world.js";

/** A "wa" platform whose cards to `closed` fail as a channel outside a messaging window does. */
function windowedChannel(closed: string, reason: string | undefined): Channel {
  const inner = createFakeChannel({ platform: "wa" }).channel;
  return {
    ...inner,
    platform: "wa",
    async sendCard(to: Address, card: Card) {
      if (to.chatId === closed) {
        const err = new Error("window closed") as Error & { undeliverable?: string };
        if (reason) err.undeliverable = reason;
        throw err;
      }
      return inner.sendCard(to, card);
    },
  };
}

describe("undeliverable cards", () => {
  it("the owner hears why on another platform, once; the request stays held", async () => {
    const w = createBotWorld({ channels: [windowedChannel("555", "they have not written in 24 hours")] });
    await w.bot.start();
    const owner = await w.person("olive", "owner", "Olive");
    const dad = await w.store.createPerson("wa:555", "Dad", "approver");
    const { view } = await w.hold({ approvers: [`wa:555`] });
    expect(dad.id).toBeTruthy();
    const notes = w.fake.textsIn("olive").filter((t) => t.includes("could not show an approval card"));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain("on wa: they have not written in 24 hours.");
    expect(notes[0]).toContain("stays held");
    expect(notes[0]).not.toContain("to create a thing"); // the agent's words are not in Warden's notice
    expect((await w.control.getApproval(view.id))?.state).not.toBe("approved");
    // Another card is news again (once per card and chat, not once ever).
    await w.hold({ approvers: [`wa:555`] });
    expect(w.fake.textsIn("olive").filter((t) => t.includes("could not show"))).toHaveLength(2);
    expect(owner).toBeDefined();
  });

  it("a send that fails for any other reason tells nobody", async () => {
    const w = createBotWorld({ channels: [windowedChannel("555", undefined)] });
    await w.bot.start();
    await w.person("olive", "owner", "Olive");
    await w.store.createPerson("wa:555", "Dad", "approver");
    await w.hold({ approvers: [`wa:555`] });
    expect(w.fake.textsIn("olive").some((t) => t.includes("could not show"))).toBe(false);
    expect(w.logs.some((l) => l.event === "bot_card_send_failed")).toBe(true);
  });
});
