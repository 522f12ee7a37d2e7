/**
 * `/setup family`: a guided family-assistant setup, run by an admin in the family group. It asks who
 * the parents are, makes them approvers, writes the family policy naming exactly them, starts the
 * `family` agent in the group, tells the group what it can do and greets each parent privately.
 * Untrusted: the parents' numbers arrive as free text; only digits are taken from it, and only
 * from the admin who started the setup, in the same chat, within ten minutes.
 */
import type { Address } from "../channel.js";
import type { Command, CommandContext } from "./command.js";
import { errorLine, need, usage } from "./command.js";
import { familyPolicyYaml } from "./family-policy.js";

const SETUP_TTL_MS = 10 * 60_000;
const MAX_PARENTS = 4;
const PROVIDER = /^[a-z]{1,16}$/;

export const setupCommand: Command = {
  name: "setup",
  usage: "/setup family [provider] — the family assistant, with parents as approvers",
  async run(ctx) {
    const [what, provider, ...rest] = ctx.args;
    if (what !== "family" || rest.length > 0 || (provider && !PROVIDER.test(provider)))
      return usage(ctx, setupCommand);
    return beginFamilySetup(ctx, provider ?? "demo");
  },
};

/** Starts the conversation: asks who the parents are. Also reached by `/agent start family`. */
export async function beginFamilySetup(ctx: CommandContext, provider: string): Promise<void> {
  if (!(await need(ctx, "admin"))) return;
  ctx.deps.store.beginSetup(ctx.msg.chat, ctx.msg.from.id, "family", { provider }, SETUP_TTL_MS);
  await ctx.reply(
    [
      "Let's set up the family assistant for this chat.",
      "Who are the parents? Reply with their phone numbers, country code first (for example +44 7700 900123), or @-mention them.",
      'Their OK will be needed for bookings, purchases, payments and messages to anyone outside the family. Send "cancel" to stop.',
    ].join("\n"),
  );
}

/** Handles the admin's answer while a family setup waits in this chat. */
export async function continueFamilySetup(ctx: CommandContext, provider: string): Promise<void> {
  const { store, control, log } = ctx.deps;
  const chat = ctx.msg.chat;
  if (/^\s*cancel\s*$/i.test(ctx.msg.text)) {
    store.endSetup(chat);
    return ctx.reply("Family setup cancelled; nothing was changed.");
  }
  const ids = parentIds(ctx.msg.text);
  if (ids.length === 0 || ids.length > MAX_PARENTS)
    return ctx.reply(
      ids.length === 0
        ? 'I could not find a phone number in that. Send the parents\' numbers with the country code, or "cancel".'
        : `That is more than ${MAX_PARENTS} parents; send up to ${MAX_PARENTS} numbers.`,
    );
  if (!(await need(ctx, "admin"))) return void store.endSetup(chat);
  store.endSetup(chat);
  const platform = ctx.channel.platform;
  const parents = ids.map((digits, i) => {
    const identity = `${platform}:${digits}`;
    const known = store.personOf(identity);
    if (!known)
      return { identity, digits, name: store.createPerson(identity, `Parent ${i + 1}`, "approver").name };
    if (known.role === "member") store.setRole(known.id, "approver");
    return { identity, digits, name: known.name };
  });
  const written = await control.writePolicy("family", familyPolicyYaml(parents.map((p) => p.identity)));
  if (!written.ok) return ctx.reply(`The family policy was not accepted:\n${written.errors}`);
  log("bot_family_setup", { by: ctx.msg.from.id, parents: parents.length, platform });

  let started = true;
  try {
    await control.startAgent("family", provider);
    store.bind("family", chat);
  } catch (err) {
    started = false;
    await ctx.reply(
      `The parents and the policy are saved, but the assistant did not start: ${errorLine(err)}`,
    );
  }
  for (const p of parents) await greetParent(ctx, p.digits, chat);
  if (!started) return ctx.reply("Start it later with /agent start family.");
  return ctx.reply(groupIntro(parents.map((p) => p.name)));
}

function groupIntro(parentNames: readonly string[]): string {
  return [
    "Hello family! I'm your assistant. Mention me to ask for something.",
    "I can, on my own: read the shared calendar, read the shopping list and add things to it.",
    `I must ask a parent (${parentNames.join(", ")}) before I book anything, buy or pay for anything, or message anyone outside the family. They get the request privately and can approve or deny it.`,
    "Anything else on the internet is off limits to me.",
  ].join("\n");
}

async function greetParent(ctx: CommandContext, digits: string, group: Address): Promise<void> {
  const to = ctx.channel.privateChat(digits);
  const where = group.chatId === to.chatId ? "" : " in your family group";
  await ctx.channel
    .sendText(
      to,
      `Hi! ${ctx.person?.name ?? ctx.msg.from.name} made you an approver for the family assistant${where}. When it wants to book, buy, pay or message someone outside the family, I'll send the request here: reply "approve" or "deny" to it, or react 👍 / 👎.`,
    )
    .catch((err: unknown) => ctx.deps.log("bot_family_greet_failed", { error: (err as Error).name }));
}

/** Phone numbers (or @-mentions of them) in free text → digit strings, 6–15 digits, de-duplicated. */
export function parentIds(text: string): string[] {
  const found = text.match(/@?\+?\d[\d ().-]{4,22}\d/g) ?? [];
  const digits = found.map((f) => f.replace(/\D/g, "")).filter((d) => d.length >= 6 && d.length <= 15);
  return [...new Set(digits)];
}
