/** iMessage through the user's BlueBubbles server: the channel, our client, the webhook check. */
export { type BbMessage, type BlueBubbles, BlueBubblesError, createBlueBubbles } from "./bluebubbles.js";
export { createIMessageChannel, IMESSAGE_MAX_TEXT, type IMessageChannelOptions } from "./imessage-channel.js";
export { imessageVerifier, WEBHOOK_TOKEN, webhookToken } from "./imessage-webhook.js";
export { type BlueBubblesCheck, checkBlueBubbles } from "./bluebubbles-check.js";
