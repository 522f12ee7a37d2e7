/** The Chat SDK webhook platforms (Teams, GitHub, Linear, WhatsApp Cloud; Google Chat to come). */
export { type ChatSdkPlatform, createChatSdkChannels } from "./chat-sdk-channel.js";
export { type ChatSdkSettings, chatSdkPlatforms } from "./platforms.js";
