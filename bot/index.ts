// The only import surface of bot/ for the rest of Warden (cli/start.ts wires it).
export { type Bot, type BotOptions, createBot } from "./bot.js";
export {
  type BotStore,
  createBotStore,
  openBotStore,
  openPostgresBotStore,
  type Person,
  type Role,
  ROLES,
} from "./bot-store.js";
export { buildCard, parseCardAction } from "./cards.js";
export type {
  Address,
  Card,
  Channel,
  InboundAction,
  InboundEvent,
  InboundMessage,
  Sender,
  SentRef,
} from "./channel.js";
export type { FullRequestView } from "./chat-approver.js";
export type {
  AgentInfo,
  ControlPort,
  DecideOutcome,
  HeldRequest,
  PolicyWriteOutcome,
} from "./control-port.js";
export { createRoleResolver, redeemToken } from "./roles.js";
