/**
 * `/quiet 22:00-07:00 [tz=Europe/Berlin]`, `/quiet off`, `/quiet` (DESIGN §6): a person's quiet
 * hours, during which their approval cards wait (bot/approver-routing.ts). Any known person may set
 * their own, never someone else's. Untrusted: the arguments (parsed strictly by quiet-hours.ts) and
 * the platform's time zone for the sender (validated the same way; UTC when it says nothing).
 */
import { describeQuiet, parseQuiet, validTimeZone } from "../quiet-hours.js";
import { type Command, need, usage } from "./command.js";

/** The /quiet command. */
export const quietCommand: Command = {
  name: "quiet",
  usage: "/quiet 22:00-07:00 [tz=Europe/Berlin] | /quiet off | /quiet  (your quiet hours: cards wait)",
  async run(ctx) {
    if (!(await need(ctx, "member"))) return;
    const person = ctx.person;
    if (!person) return;
    const cmd = parseQuiet(ctx.argText);
    const { store } = ctx.deps;
    switch (cmd.kind) {
      case "invalid":
        await ctx.reply(cmd.message);
        return usage(ctx, quietCommand);
      case "show": {
        const q = await store.quietOf(person.id);
        return ctx.reply(
          q
            ? `Your quiet hours: ${describeQuiet(q)}. Cards wait, or go to the other approvers. /quiet off ends them.`
            : "You have no quiet hours. Set them with /quiet 22:00-07:00 [tz=Europe/Berlin].",
        );
      }
      case "off":
        await store.setQuiet(person.id, null);
        return ctx.reply("Quiet hours off: your cards come at any time.");
      case "set": {
        const userId = ctx.msg.from.id.slice(ctx.msg.from.id.indexOf(":") + 1);
        // The platform's zone for this person where it tells (Slack users.info), else UTC.
        const told = cmd.tz ?? (await ctx.channel.timeZoneOf?.(userId).catch(() => undefined));
        const tz = (told && validTimeZone(told)) ?? "UTC";
        const q = { start: cmd.start, end: cmd.end, tz };
        await store.setQuiet(person.id, q);
        return ctx.reply(
          `Quiet hours set: ${describeQuiet(q)}. Your approval cards wait until they end, or go to another approver; a request that needs you still waits for you.`,
        );
      }
    }
  },
};
