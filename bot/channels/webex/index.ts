/** Webex: our own REST client and the Channel over it. */
export { createWebexApi, DEFAULT_WEBEX_API, type WebexApi, WebexApiError } from "./webex-api.js";
export { createWebexChannel, type WebexChannel, type WebexChannelOptions } from "./webex-channel.js";
