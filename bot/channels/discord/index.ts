/** The Discord channel's front door: the only import surface of bot/channels/discord/. */
export { DEFAULT_COMMANDS, type DiscordCommandSpec } from "./commands.js";
export { createDiscordChannel, type DiscordChannelOptions } from "./discord-channel.js";
export { AGENT_SAYS_LABEL, escapeMarkdown, TEXT_LIMIT } from "./embeds.js";
