/** X (Twitter) DMs: the channel, its API client (the only importer of twitter-api-v2) and webhook. */
export { type CursorStore, fileCursorStore, memoryCursorStore } from "./dm-cursor.js";
export { createXApi, type XApi, XApiError, type XCredentials } from "./x-api.js";
export { createXChannel, X_MAX_TEXT, type XChannelOptions } from "./x-channel.js";
export { xSignature, xVerifier } from "./x-webhook.js";
export { checkX, type XCheck } from "./x-check.js";
