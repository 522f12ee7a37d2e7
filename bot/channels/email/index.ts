/** The Email channel (IMAP IDLE in, SMTP out): the only importer of imapflow, nodemailer and mailparser. */
export { createEmailChannel, type EmailChannelOptions } from "./email-channel.js";
export { checkEmail, type EmailCheck } from "./email-check.js";
export { type EmailSettings, EmailSettingsError } from "./email-settings.js";
