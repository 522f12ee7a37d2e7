/** The built-in web chat channel: the only import surface of bot/channels/web/. */
export {
  createWebChannel,
  type WebChannel,
  type WebChannelOptions,
  type WebLog,
  type WebPerson,
} from "./web-channel.js";
export { openWebChatState, storeWebChatState, type WebChatState } from "./web-chat-state.js";
