/**
 * `/secret set|list|delete`. Threat model: the message holding a value is itself a leak; everyone in
 * a group, the platform's history and our logs are places it must not stay. So: `set` works only in
 * a private chat; in a group it is refused, never stored, the sender is warned to rotate the value,
 * and we try to delete the message. In private we store it, delete the message where the platform
 * allows, and confirm by name only. The value is never echoed, logged or put in an error.
 */
import { SECRET_NAME } from "../../gateway/index.js";
import type { Channel, InboundMessage } from "../channel.js";
import { type Command, type CommandContext, need, usage } from "./command.js";

/** The /secret command (`set` in groups is intercepted earlier by `refuseSecretInGroup`). */
export const secretCommand: Command = {
  name: "secret",
  usage: ["/secret set NAME VALUE  (private chat only)", "/secret list", "/secret delete NAME"].join("\n"),
  async run(ctx) {
    const [sub, name] = ctx.args;
    const { control, log } = ctx.deps;
    if (sub === "set") return set(ctx);
    if (sub === "list" && ctx.args.length === 1) {
      if (!(await need(ctx, "admin"))) return;
      const names = await control.listSecrets();
      return ctx.reply(names.length ? `Secrets: ${names.join(", ")}` : "No secrets stored.");
    }
    if (sub === "delete" && ctx.args.length === 2 && name && SECRET_NAME.test(name)) {
      if (!(await need(ctx, "admin"))) return;
      const deleted = await control.deleteSecret(name);
      log("bot_secret_delete", { by: ctx.msg.from.id, secret: name, deleted });
      return ctx.reply(deleted ? `Deleted secret ${name}.` : `No secret called ${name}.`);
    }
    return usage(ctx, secretCommand);
  },
};

async function set(ctx: CommandContext): Promise<void> {
  // The message holds a value: get rid of it first, whatever happens next.
  const deleted = await tryDelete(ctx.channel, ctx.msg);
  if (!ctx.msg.isPrivate) return refuseSecretInGroup(ctx.channel, ctx.msg, (t) => ctx.reply(t), deleted);
  const name = ctx.args[1];
  const value = ctx.argText.replace(/^\S+\s+\S+\s?/, "").trim() || ctx.body.trim();
  if (!name || !SECRET_NAME.test(name) || !value) {
    return ctx.reply(`Usage:\n/secret set NAME VALUE  (private chat only)${deletedNote(deleted)}`);
  }
  if (!(await need(ctx, "admin"))) return;
  await ctx.deps.control.setSecret(name, value);
  ctx.deps.log("bot_secret_set", { by: ctx.msg.from.id, secret: name, messageDeleted: deleted });
  return ctx.reply(`Stored secret ${name}.${deletedNote(deleted)}`);
}

/**
 * A `/secret set` seen in a group: never stored, warned about, and deleted where possible. Runs before
 * any identity check so that even a stranger's pasted value is taken down.
 */
export async function refuseSecretInGroup(
  channel: Channel,
  msg: InboundMessage,
  reply: (text: string) => Promise<void>,
  alreadyDeleted?: boolean | "unposted",
): Promise<void> {
  const deleted = alreadyDeleted ?? (await tryDelete(channel, msg));
  if (deleted === "unposted")
    return reply(
      "Secrets can only be set in a private chat with me. I did not store it. A slash command is not posted, so nobody here saw the value.",
    );
  await reply(
    "Secrets can only be set in a private chat with me. I did not store it. " +
      "Everyone here may have seen the value: rotate it, then send it to me privately." +
      (deleted ? " I deleted your message." : " I could not delete your message; please delete it now."),
  );
}

async function tryDelete(channel: Channel, msg: InboundMessage): Promise<boolean | "unposted"> {
  if (msg.unposted) return "unposted";
  if (!channel.deleteMessage) return false;
  try {
    await channel.deleteMessage(msg.ref);
    return true;
  } catch {
    return false;
  }
}

function deletedNote(deleted: boolean | "unposted"): string {
  if (deleted === "unposted") return " (A slash command is not posted, so nobody else saw the value.)";
  return deleted
    ? " I deleted your message."
    : " I could not delete your message; please delete it yourself.";
}
