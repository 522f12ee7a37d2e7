/** Messenger and Instagram: one Send API client and one Channel shape for both. */
export { createGraphSendApi, GRAPH_VERSION, GraphApiError, type GraphSendApi } from "./graph-send-api.js";
export { createMetaChannel, DEFAULT_API_URL, type MetaChannelOptions } from "./meta-channel.js";
export type { MetaPlatform } from "./meta-card.js";
export { MessagingWindowClosed, memoryWindowStore, WINDOW_MS, type WindowStore } from "./messaging-window.js";
