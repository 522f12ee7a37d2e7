/** The shared webhook listener and its per-platform verifiers. */
export { githubVerifier, linearVerifier, whatsappCloudVerifier } from "./hmac-verifiers.js";
export { googleChatVerifier, teamsVerifier } from "./jwt-verifiers.js";
export { MAX_EVENT_AGE_MS } from "./replay-guard.js";
export { startWebhookListener, type WebhookListener, type WebhookRoute } from "./webhook-listener.js";
export type { Verdict, WebhookDelivery, WebhookVerifier } from "./webhook-verifier.js";
