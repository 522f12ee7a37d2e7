/**
 * `/setup family`: a guided family-assistant setup, run by an admin in a WhatsApp family group. It
 * asks who the parents are (greeting each privately, which proves the number reaches someone), then
 * who else may ask; writes the family policy naming exactly the parents as its approvers, starts
 * the `family` agent in the group and tells the group what it can do. Untrusted: the answers are
 * free text; only digits and WhatsApp-resolved mentions are taken from them, and only from the
 * admin who started the setup, in the same chat, within ten minutes.
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
  usage: "/setup family [provider]  (in a WhatsApp group: the family assistant, parents approve)",
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
  // Parents are named by phone number, which is a person's id only on WhatsApp (elsewhere a typed
  // number could be some stranger's user id).
  if (ctx.channel.platform !== "whatsapp")
    return ctx.reply("The family assistant is set up from a WhatsApp group: send /setup family there.");
  ctx.deps.store.beginSetup(ctx.msg.chat, ctx.msg.from.id, "family", { provider }, SETUP_TTL_MS);
  await ctx.reply(
    [
      "Let's set up the family assistant for this chat.",
      "Who are the parents? Reply with their phone numbers, country code first (for example +44 7700 900123), or @-mention them.",
      'Their OK will be needed for bookings, purchases, payments and messages to anyone outside the family. Send "cancel" to stop.',
    ].join("\n"),
  );
}

/** Handles the admin's answers while a family setup waits in this chat: parents, then the others. */
export async function continueFamilySetup(
  ctx: CommandContext,
  data: Readonly<Record<string, string>>,
): Promise<void> {
  const { store } = ctx.deps;
  const chat = ctx.msg.chat;
  if (/^\s*cancel\s*$/i.test(ctx.msg.text)) {
    store.endSetup(chat);
    return ctx.reply(
      data.step === "members"
        ? "Family setup stopped. The parents and the policy are saved; /agent start family starts the assistant."
        : "Family setup cancelled; nothing was changed.",
    );
  }
  if (!(await need(ctx, "admin"))) return void store.endSetup(chat);
  const provider = data.provider ?? "demo";
  if (data.step === "members") return finishFamilySetup(ctx, provider, JSON.parse(data.parents ?? "[]"));
  const ids = peopleIn(ctx);
  if (ids.length === 0 || ids.length > MAX_PARENTS)
    return ctx.reply(
      ids.length === 0
        ? 'I could not find a phone number in that. Send the parents\' numbers with the country code, or "cancel".'
        : `That is more than ${MAX_PARENTS} parents; send up to ${MAX_PARENTS} numbers.`,
    );
  // Greeting first doubles as the reachability check: a parent we cannot message could never approve.
  const unreachable: string[] = [];
  for (const id of ids) if (!(await greetParent(ctx, id, chat))) unreachable.push(id);
  if (unreachable.length > 0)
    return ctx.reply(
      `I could not reach ${unreachable.map((id) => (/^\d+$/.test(id) ? `+${id}` : id)).join(", ")} on WhatsApp. Check the numbers and send the parents again, or "cancel".`,
    );
  const platform = ctx.channel.platform;
  // Least privilege: parents stay members; the family policy names them as its only approvers.
  const parents = ids.map((digits, i) => {
    const identity = `${platform}:${digits}`;
    const known = store.personOf(identity);
    return { digits, name: known?.name ?? store.createPerson(identity, `Parent ${i + 1}`, "member").name };
  });
  const written = await ctx.deps.control.writePolicy(
    "family",
    familyPolicyYaml(ids.map((d) => `${platform}:${d}`)),
  );
  if (!written.ok) {
    store.endSetup(chat);
    return ctx.reply(`The family policy was not accepted:\n${written.errors}`);
  }
  ctx.deps.log("bot_family_setup", { by: ctx.msg.from.id, parents: parents.length, platform });
  store.beginSetup(
    chat,
    ctx.msg.from.id,
    "family",
    { provider, step: "members", parents: JSON.stringify(parents) },
    SETUP_TTL_MS,
  );
  return ctx.reply(
    'Thanks. Who else in the family may ask me for things? They cannot approve anything. Send their numbers, or "none".',
  );
}

/** Adds the other family members, starts the agent in this chat, greets the parents and the group. */
async function finishFamilySetup(
  ctx: CommandContext,
  provider: string,
  parents: readonly { digits: string; name: string }[],
): Promise<void> {
  const { store, control } = ctx.deps;
  const chat = ctx.msg.chat;
  const none = /^\s*(none|no|nobody|skip)\W*$/i.test(ctx.msg.text);
  const ids = none ? [] : peopleIn(ctx);
  if (ids.length === 0 && !none)
    return ctx.reply('I could not find a phone number in that. Send their numbers, or "none".');
  store.endSetup(chat);
  let added = 0;
  for (const digits of ids.slice(0, 20)) {
    const identity = `${ctx.channel.platform}:${digits}`;
    if (store.personOf(identity)) continue; // never lowers anyone's role
    store.createPerson(identity, `Family member ${++added}`, "member");
  }
  let started = true;
  try {
    await control.startAgent("family", provider);
    store.bind("family", chat);
  } catch (err) {
    started = false;
    await ctx.reply(`The family is saved, but the assistant did not start: ${errorLine(err)}`);
  }
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

/** Tells a parent what they were made; false when the message could not be delivered. */
async function greetParent(ctx: CommandContext, id: string, group: Address): Promise<boolean> {
  try {
    const to = ctx.channel.privateChat(id);
    const where = group.chatId === to.chatId ? "" : " in your family group";
    await ctx.channel.sendText(
      to,
      `Hi! ${ctx.person?.name ?? ctx.msg.from.name} made you an approver for the family assistant${where}. When it wants to book, buy, pay or message someone outside the family, I'll send the request here: reply "approve" or "deny" to it, or react 👍 / 👎.`,
    );
    return true;
  } catch (err) {
    ctx.deps.log("bot_family_greet_failed", { error: (err as Error).name });
    return false;
  }
}

/**
 * The people an answer names: @-mentions as WhatsApp resolved them (a number, or `lid:…` when it
 * hides the number), then phone numbers typed out. A mention's own text (`@<digits>`) is skipped:
 * those digits may be a LID, not a phone number.
 */
function peopleIn(ctx: CommandContext): string[] {
  const typed = parentIds(ctx.msg.text.replace(/@\d+/g, " "));
  return [...new Set([...(ctx.msg.mentions ?? []), ...typed])];
}

/** Phone numbers in free text → digit strings of 8–15 digits (country code first), de-duplicated. */
export function parentIds(text: string): string[] {
  const found = text.match(/\+?\d[\d ().-]{4,22}\d/g) ?? [];
  const digits = found.map((f) => f.replace(/\D/g, "")).filter((d) => d.length >= 8 && d.length <= 15);
  return [...new Set(digits)];
}
