/**
 * Turns inbound chat messages into commands or agent messages. Threat model: message text and sender
 * names are untrusted and may be huge or crafted. We ignore group chatter that is neither a command
 * nor a mention, refuse messages over 16 KB before parsing further, take down pasted secrets in
 * groups before anything else, answer unknown people with one polite refusal, and never log text.
 */
import type { Channel, InboundMessage } from "./channel.js";
import { agentCommand } from "./commands/agent.js";
import { approvalsCommand, auditCommand } from "./commands/approvals.js";
import type { BotDeps, Command, CommandContext } from "./commands/command.js";
import { need } from "./commands/command.js";
import { inviteCommand, linkCommand, roleCommand, startCommand } from "./commands/people.js";
import { policyCommand } from "./commands/policy.js";
import { quietCommand } from "./commands/quiet.js";
import { refuseSecretInGroup, secretCommand } from "./commands/secret.js";
import { continueFamilySetup, setupCommand } from "./commands/setup.js";
import { UNKNOWN_PERSON_REPLY } from "./roles.js";

/** Largest message we read, in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 16 * 1024;

export type ParsedCommand =
  | {
      readonly ok: true;
      readonly name: string;
      readonly argText: string;
      readonly args: string[];
      readonly body: string;
    }
  | { readonly ok: false; readonly reason: "not_a_command" | "other_bot" };

const COMMAND_RE = /^\/([A-Za-z][A-Za-z0-9_]{0,31})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+([\s\S]*))?$/;

/** Parses `/command[@bot] args` on the first line; the following lines are the body. */
export function parseCommand(text: string, botName?: string): ParsedCommand {
  const nl = text.indexOf("\n");
  const first = (nl < 0 ? text : text.slice(0, nl)).trim();
  const m = COMMAND_RE.exec(first);
  if (!m?.[1]) return { ok: false, reason: "not_a_command" };
  // `/cmd@otherbot` in a group is addressed to another bot: stay out of it.
  if (m[2] && botName && m[2].toLowerCase() !== botName.toLowerCase())
    return { ok: false, reason: "other_bot" };
  const argText = (m[3] ?? "").trim();
  return {
    ok: true,
    name: m[1].toLowerCase(),
    argText,
    args: argText ? argText.split(/\s+/) : [],
    body: nl < 0 ? "" : text.slice(nl + 1),
  };
}

/** Every command, in /help order. */
export const COMMANDS: readonly Command[] = [
  agentCommand,
  policyCommand,
  approvalsCommand,
  secretCommand,
  auditCommand,
  roleCommand,
  inviteCommand,
  linkCommand,
  startCommand,
  setupCommand,
  quietCommand,
];

const helpCommand: Command = {
  name: "help",
  usage: "/help",
  open: true,
  async run(ctx) {
    const cards =
      "Approval cards: several held requests of one agent close together share one card, each with its own buttons, plus Approve all (N) / Deny all for exactly the N listed.";
    return ctx.reply(`Commands:\n${[...COMMANDS.map((c) => c.usage), "/help"].join("\n")}\n\n${cards}`);
  },
};

/** Creates the message handler for one bot. */
export function createRouter(deps: BotDeps, opts: { botName?: string } = {}) {
  const byName = new Map([...COMMANDS, helpCommand].map((c) => [c.name, c]));

  return async function route(channel: Channel, msg: InboundMessage): Promise<void> {
    const reply = async (text: string): Promise<void> => void (await channel.sendText(msg.chat, text));
    const parsed = parseCommand(msg.text, opts.botName);
    // A guided setup waits for its starter's next plain message in this chat, mentioned or not.
    const setup =
      !parsed.ok && parsed.reason === "not_a_command"
        ? await deps.store.setupOf(msg.chat, msg.from.id)
        : undefined;
    if (setup && setup.kind === "family" && Buffer.byteLength(msg.text) <= MAX_MESSAGE_BYTES) {
      const person = await deps.store.personOf(msg.from.id);
      const ctx: CommandContext = { msg, channel, person, args: [], argText: "", body: "", deps, reply };
      return continueFamilySetup(ctx, setup.data);
    }
    // A comment thread bound to an agent (GitHub, Linear) is that agent's conversation: what is said
    // there is addressed to it unmentioned, as a reply in a Slack agent thread is.
    const agentThread =
      !parsed.ok && channel.commentThreads === true && (await deps.store.agentsBoundTo(msg.chat)).length > 0;
    const unaddressed = !parsed.ok && !msg.isPrivate && !msg.mentioned;
    if (!parsed.ok && (parsed.reason === "other_bot" || (unaddressed && !agentThread))) return;
    if (parsed.ok && parsed.name === "secret" && parsed.args[0] === "set" && !msg.isPrivate) {
      deps.log("bot_secret_in_group", { by: msg.from.id, platform: msg.chat.platform });
      return refuseSecretInGroup(channel, msg, reply);
    }
    // Read once for the checks below (one store read per message on this path).
    const person = await deps.store.personOf(msg.from.id);
    // A stranger's plain comment in a public agent thread gets no answer: one reply per comment would
    // let anyone make the bot spam the thread. Their commands and mentions are answered as anywhere.
    if (unaddressed && !person) return;
    if (Buffer.byteLength(msg.text) > MAX_MESSAGE_BYTES) {
      return reply(`That message is too long for me (limit ${MAX_MESSAGE_BYTES / 1024} KB).`);
    }
    if (person && msg.isPrivate) await deps.store.rememberPrivateChat(msg.from.id, msg.chat);
    const command = parsed.ok ? byName.get(parsed.name) : undefined;
    if (!person && !command?.open) return reply(UNKNOWN_PERSON_REPLY);
    if (!parsed.ok) return tellAgents(channel, msg, reply);
    if (!command) return reply(`I don't know /${parsed.name}. Send /help for the list of commands.`);
    const ctx: CommandContext = { msg, channel, person, ...parsed, deps, reply };
    // The command's name only: its arguments may be a claim token, a link code, a secret or policy text.
    deps.log("bot_command", { by: msg.from.id, command: command.name });
    try {
      await command.run(ctx);
    } catch (err) {
      deps.log("bot_command_failed", { command: command.name, error: (err as Error).name });
      // The error text is not echoed: it may come from anywhere, and this chat may be a group.
      await reply("Something went wrong; the details are in Warden's log.").catch(() => undefined);
    }
  };

  async function tellAgents(
    channel: Channel,
    msg: InboundMessage,
    reply: (t: string) => Promise<void>,
  ): Promise<void> {
    const agents = await deps.store.agentsBoundTo(msg.chat);
    const ctx = { msg, channel, person: undefined, args: [], argText: "", body: "", deps, reply };
    if (!(await need(ctx, "member"))) return;
    if (agents.length === 0) {
      return reply("No agent is connected to this chat. Start one with /agent start NAME, or send /help.");
    }
    for (const agent of agents) await deps.control.tellAgent(agent, msg.text, msg.from.id);
  }
}

export type Router = ReturnType<typeof createRouter>;
