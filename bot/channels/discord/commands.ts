/**
 * Application (slash) commands. Each takes one optional free-text option, `args`, so `/agent start
 * demo` arrives as name "agent", args "start demo" and reaches the bot as the text it already parses.
 * Inbound names and values are untrusted: only registered names become text, and the text is built
 * here, never taken whole from the payload.
 */
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  InteractionContextType,
} from "discord.js";

/** A command we register: the name typed after "/" and the description Discord shows. */
export interface DiscordCommandSpec {
  readonly name: string;
  readonly description: string;
}

/** The option every command carries. */
export const ARGS_OPTION = "args";

export const DEFAULT_COMMANDS: readonly DiscordCommandSpec[] = [
  { name: "agent", description: "Start, stop, list or ask agents" },
  { name: "policy", description: "List, show, edit, test or reload policies" },
  { name: "approvals", description: "Pending approvals" },
  { name: "secret", description: "Set, list or delete secrets (set only in a DM)" },
  { name: "audit", description: "Recent audit log" },
  { name: "role", description: "Show or change roles" },
  { name: "link", description: "Link your identities across platforms" },
  { name: "quiet", description: "Your quiet hours: approval cards wait" },
  { name: "help", description: "What I can do" },
  { name: "start", description: "Say hello" },
];

// Discord's rule for chat-input command names (lowercase, 1–32).
const NAME_RE = /^[-_a-z0-9]{1,32}$/;

/** The body for `PUT /applications/{id}/commands` (a bulk overwrite: stale commands disappear). */
export function commandPayloads(commands: readonly DiscordCommandSpec[]): Record<string, unknown>[] {
  return commands.map((c) => {
    if (!NAME_RE.test(c.name)) throw new Error(`invalid Discord command name: ${c.name}`);
    return {
      type: ApplicationCommandType.ChatInput,
      name: c.name,
      description: c.description.slice(0, 100),
      options: [
        {
          type: ApplicationCommandOptionType.String,
          name: ARGS_OPTION,
          description: "Arguments, as you would type them after the command",
          required: false,
        },
      ],
      contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
      integration_types: [ApplicationIntegrationType.GuildInstall],
    };
  });
}

/**
 * `/name args` for a registered command, or undefined for a name we never registered (a stale or
 * forged interaction): those are refused, not guessed at.
 */
export function commandText(
  commands: readonly DiscordCommandSpec[],
  name: string,
  args: string | null,
): string | undefined {
  if (!commands.some((c) => c.name === name)) return undefined;
  const rest = (args ?? "").trim();
  return rest ? `/${name} ${rest}` : `/${name}`;
}
