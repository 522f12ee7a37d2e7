/** The Slack channel's front door: the only import surface of bot/channels/slack/. */
export { SlackApiError, type SlackLog } from "./slack-api.js";
export {
  createSlackChannel,
  SLACK_TEXT_LIMIT,
  type SlackChannel,
  type SlackChannelOptions,
} from "./slack-channel.js";
