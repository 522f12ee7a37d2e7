/** The Chat SDK webhook platforms (GitHub, Linear; Teams, Google Chat and WhatsApp Cloud to come). */
export { type ChatSdkPlatform, createChatSdkChannels } from "./chat-sdk-channel.js";
export { type ChatSdkSettings, chatSdkPlatforms } from "./platforms.js";
