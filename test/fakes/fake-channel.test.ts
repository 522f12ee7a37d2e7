import { approvalTapsContract } from "../contracts/approval-taps.contract.js";
import { cardReadInFull, channelContract } from "../contracts/channel.contract.js";
import { createFakeChannel } from "./fake-channel.js";

channelContract("fake", async () => {
  const fake = createFakeChannel({ maxTextLength: 100 });
  return {
    channel: fake.channel,
    maxTextLength: 100,
    // A platform with nobody listening drops the message; so does the harness.
    injectPrivateText: (userId, text) =>
      fake.message({ from: userId, text }).then(
        () => undefined,
        () => undefined,
      ),
    textsIn: (chatId) => fake.textsIn(chatId),
    buttonsOn: (ref) => fake.currentCard(ref)?.buttons.length ?? 0,
    // The fake has no rendering of its own: it shows every field whole.
    shownOn: (ref) => {
      const card = fake.currentCard(ref);
      return { text: card ? cardReadInFull(card) : "", buttons: card?.buttons.map((b) => b.label) ?? [] };
    },
  };
});

approvalTapsContract("fake", async () => {
  const f = createFakeChannel({ platform: "fake3" });
  return {
    channel: f.channel,
    tap: (userId, ref, data) => f.tap({ from: userId, ref, data }),
    buttonsOn: (ref) => f.currentCard(ref)?.buttons.length ?? 0,
    shownText: (ref) => {
      const card = f.currentCard(ref);
      return card ? cardReadInFull(card) : "";
    },
  };
});
