/**
 * `/setup family`: a guided family-assistant setup, run by an admin in a family group chat. It
 * asks who the parents are (greeting each privately, which proves the address reaches someone), then
 * who else may ask; writes the family policy naming exactly the parents as its approvers, starts
 * the `family` agent in the group and tells the group what it can do. People are named by full
 * identity on any running platform (`matrix:@mum:example.org`, `email:dad@example.org`: one parent
 * may approve by mail while the group is on Matrix), by platform-resolved @-mention, or, on
 * WhatsApp only, by phone number (elsewhere typed digits could be some stranger's user id).
 * Untrusted: the answers are free text; only those three forms are taken from them, and only from
 * the admin who started the setup, in the same chat, within ten minutes.
 */
import type { Address } from "../channel.js";
import type { Command, CommandContext } from "./command.js";
import { errorLine, need, usage } from "./command.js";
import { familyPolicyYaml, isFamilyApproverId } from "./family-policy.js";

const SETUP_TTL_MS = 10 * 60_000;
const MAX_PARENTS = 4;
const PROVIDER = /^[a-z]{1,16}$/;
const EXAMPLE_IDS = "matrix:@mum:example.org or email:dad@example.org";

export const setupCommand: Command = {
  name: "setup",
  usage: "/setup family [provider]  (in the family group: the family assistant, parents approve)",
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
  await ctx.deps.store.beginSetup(ctx.msg.chat, ctx.msg.from.id, "family", { provider }, SETUP_TTL_MS);
  await ctx.reply(
    [
      "Let's set up the family assistant for this chat.",
      ctx.channel.platform === "whatsapp"
        ? "Who are the parents? Reply with their phone numbers, country code first (for example +44 7700 900123), or @-mention them."
        : `Who are the parents? @-mention them, or name them with the app first (for example ${EXAMPLE_IDS}).`,
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
    await store.endSetup(chat);
    return ctx.reply(
      data.step === "members"
        ? "Family setup stopped. The parents and the policy are saved; /agent start family starts the assistant."
        : "Family setup cancelled; nothing was changed.",
    );
  }
  if (!(await need(ctx, "admin"))) return void (await store.endSetup(chat));
  const provider = data.provider ?? "demo";
  if (data.step === "members") return finishFamilySetup(ctx, provider, JSON.parse(data.parents ?? "[]"));
  const ids = peopleIn(ctx);
  const whatsapp = ctx.channel.platform === "whatsapp";
  if (ids.length === 0 || ids.length > MAX_PARENTS)
    return ctx.reply(
      ids.length === 0
        ? whatsapp
          ? 'I could not find a phone number in that. Send the parents\' numbers with the country code, or "cancel".'
          : `I could not find anyone in that. Send the parents as ${EXAMPLE_IDS}, or "cancel".`
        : `That is more than ${MAX_PARENTS} parents; send up to ${MAX_PARENTS}.`,
    );
  // Greeting first doubles as the reachability check: a parent we cannot message could never approve.
  const unreachable: string[] = [];
  for (const id of ids) if (!(await greetParent(ctx, id, chat))) unreachable.push(id);
  if (unreachable.length > 0) {
    const onWhatsApp = unreachable.every((id) => id.startsWith("whatsapp:"));
    return ctx.reply(
      `I could not reach ${unreachable.map(shownId).join(", ")}${onWhatsApp ? " on WhatsApp" : ""}. Check ${onWhatsApp ? "the numbers" : "them"} and send the parents again, or "cancel".`,
    );
  }
  const platform = ctx.channel.platform;
  // Least privilege: parents stay members; the family policy names them as its only approvers.
  const parents: { identity: string; name: string }[] = [];
  for (const [i, identity] of ids.entries()) {
    const known = await store.personOf(identity);
    parents.push({
      identity,
      name: known?.name ?? (await store.createPerson(identity, `Parent ${i + 1}`, "member")).name,
    });
  }
  const written = await ctx.deps.control.writePolicy("family", familyPolicyYaml(ids));
  if (!written.ok) {
    await store.endSetup(chat);
    return ctx.reply(`The family policy was not accepted:\n${written.errors}`);
  }
  ctx.deps.log("bot_family_setup", { by: ctx.msg.from.id, parents: parents.length, platform });
  await store.beginSetup(
    chat,
    ctx.msg.from.id,
    "family",
    { provider, step: "members", parents: JSON.stringify(parents) },
    SETUP_TTL_MS,
  );
  return ctx.reply(
    `Thanks. Who else in the family may ask me for things? They cannot approve anything. Send their ${whatsapp ? "numbers" : "names as before"}, or "none".`,
  );
}

/** Adds the other family members, starts the agent in this chat, greets the parents and the group. */
async function finishFamilySetup(
  ctx: CommandContext,
  provider: string,
  parents: readonly { name: string }[],
): Promise<void> {
  const { store, control } = ctx.deps;
  const chat = ctx.msg.chat;
  const none = /^\s*(none|no|nobody|skip)\W*$/i.test(ctx.msg.text);
  const ids = none ? [] : peopleIn(ctx);
  if (ids.length === 0 && !none)
    return ctx.reply(
      ctx.channel.platform === "whatsapp"
        ? 'I could not find a phone number in that. Send their numbers, or "none".'
        : `I could not find anyone in that. Send them as ${EXAMPLE_IDS}, or "none".`,
    );
  await store.endSetup(chat);
  let added = 0;
  for (const identity of ids.slice(0, 20)) {
    if (await store.personOf(identity)) continue; // never lowers anyone's role
    await store.createPerson(identity, `Family member ${++added}`, "member");
  }
  let started = true;
  try {
    await control.startAgent("family", provider);
    await store.bind("family", chat);
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

/** Tells a parent (an identity on any running platform) what they were made; false when undeliverable. */
async function greetParent(ctx: CommandContext, identity: string, group: Address): Promise<boolean> {
  const colon = identity.indexOf(":");
  const platform = identity.slice(0, colon);
  const channel = ctx.deps.channels.get(platform);
  // A parent must get cards privately: a platform without private chats (GitHub, Linear) cannot.
  if (!channel || channel.noPrivateChats) return false;
  const how =
    platform === "whatsapp"
      ? 'reply "approve" or "deny" to it, or react 👍 / 👎'
      : "it says how to approve or deny it";
  try {
    const to =
      (await ctx.deps.store.privateChatOf(identity)) ?? channel.privateChat(identity.slice(colon + 1));
    const where = group.platform === to.platform && group.chatId === to.chatId ? "" : " in your family group";
    await channel.sendText(
      to,
      `Hi! ${ctx.person?.name ?? ctx.msg.from.name} made you an approver for the family assistant${where}. When it wants to book, buy, pay or message someone outside the family, I'll send the request here: ${how}.`,
    );
    return true;
  } catch (err) {
    ctx.deps.log("bot_family_greet_failed", { error: (err as Error).name });
    return false;
  }
}

/**
 * The identities an answer names: full identities on a running platform (`matrix:@mum:hs`,
 * `email:dad@example.org`), @-mentions as the platform resolved them (on WhatsApp a number, or
 * `lid:…` when it hides the number), then, on WhatsApp only, phone numbers typed out. A mention's
 * own text (`@<digits>`) is skipped: those digits may be a LID, not a phone number.
 */
function peopleIn(ctx: CommandContext): string[] {
  const platform = ctx.channel.platform;
  const named: string[] = [];
  const rest = ctx.msg.text.replace(/[^\s,;]+/g, (word) => {
    const id = namedIdentity(word.replace(/^[(<]+|[.,;:!?)>]+$/g, ""), ctx.deps.channels);
    if (!id) return word;
    named.push(id);
    return " ";
  });
  const mentioned = (ctx.msg.mentions ?? []).map((m) => `${platform}:${m}`);
  const typed =
    platform === "whatsapp" ? parentIds(rest.replace(/@\d+/g, " ")).map((d) => `whatsapp:${d}`) : [];
  return [...new Set([...named, ...mentioned, ...typed])].filter(isFamilyApproverId);
}

/**
 * `<platform>:<id>` for a platform this Warden runs (never `role:`), else undefined; a mail
 * address lowercased, as the Email channel keys its senders.
 */
function namedIdentity(word: string, channels: ReadonlyMap<string, unknown>): string | undefined {
  const m = /^([a-z][a-z0-9_-]{0,31}):(\S+)$/.exec(word);
  if (!m?.[1] || !m[2] || !channels.has(m[1])) return undefined;
  return m[1] === "email" ? `email:${m[2].toLowerCase()}` : `${m[1]}:${m[2]}`;
}

/** How a person is named back: a WhatsApp number as +digits, anyone else by identity. */
const shownId = (id: string): string => (/^whatsapp:\d+$/.test(id) ? `+${id.slice(9)}` : id);

/** Phone numbers in free text → digit strings of 8–15 digits (country code first), de-duplicated. */
export function parentIds(text: string): string[] {
  const found = text.match(/\+?\d[\d ().-]{4,22}\d/g) ?? [];
  const digits = found.map((f) => f.replace(/\D/g, "")).filter((d) => d.length >= 8 && d.length <= 15);
  return [...new Set(digits)];
}
