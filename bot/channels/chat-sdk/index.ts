/** The Chat SDK webhook platforms (Teams, Google Chat, GitHub, Linear, WhatsApp Cloud). */
export { type ChatSdkPlatform, createChatSdkChannels } from "./chat-sdk-channel.js";
export { type ChatSdkSettings, type ChatSdkState, chatSdkPlatforms } from "./platforms.js";
export { parseWaTemplate } from "./wacloud-window.js";
