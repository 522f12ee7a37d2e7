/**
 * `/start [TOKEN]`, `/link [CODE|here]`, `/invite ROLE`, `/role NAME_OR_ID ROLE`. Threat model: tokens
 * and link codes are bearer secrets, so they are issued and accepted only in private chats (a code
 * typed in a group could be used by anyone there first, taking over the person it names); each works
 * once; wrong link codes are limited per sender and overall (bot/link-attempts.ts). An identity
 * already belonging to someone is never moved by a code. Admins may grant up to
 * admin and never touch an owner; only an owner makes owners, and the last owner cannot step down.
 */
import { isApproverId } from "../../policies/index.js";
import { type Role, ROLES } from "../bot-store.js";
import { DEFAULT_LINK_LIMITS, lockedText } from "../link-attempts.js";
import { redeemToken, UNKNOWN_PERSON_REPLY } from "../roles.js";
import { type Command, type CommandContext, need, usage } from "./command.js";

const LINK_TTL_MS = 10 * 60_000;
const INVITE_TTL_MS = 7 * 24 * 3600_000;
const PRIVATE_ONLY = "For your safety, do that in a private chat with me.";

/** /start: greets known people; redeems an owner claim or invitation token. */
export const startCommand: Command = {
  name: "start",
  usage: "/start [TOKEN]",
  open: true,
  async run(ctx) {
    const [token] = ctx.args;
    const { store, log } = ctx.deps;
    if (!token) {
      const p = await store.personOf(ctx.msg.from.id);
      return ctx.reply(
        p ? `Hello ${p.name}, you are ${p.role}. Send /help to see what I can do.` : UNKNOWN_PERSON_REPLY,
      );
    }
    if (!ctx.msg.isPrivate || ctx.args.length > 1)
      return ctx.reply(ctx.msg.isPrivate ? UNKNOWN_PERSON_REPLY : PRIVATE_ONLY);
    const out = await redeemToken(store, token, ctx.msg.from.id, ctx.msg.from.name);
    log("bot_token_redeem", { by: ctx.msg.from.id, ok: out.ok, reason: out.ok ? undefined : out.reason });
    if (!out.ok) {
      const p = await store.personOf(ctx.msg.from.id);
      // Known people learn why; strangers get the same refusal as for anything else.
      return ctx.reply(
        p
          ? "That link is not valid (used, expired, or this Warden already has an owner)."
          : UNKNOWN_PERSON_REPLY,
      );
    }
    await store.rememberPrivateChat(ctx.msg.from.id, ctx.msg.chat);
    return ctx.reply(`Welcome ${out.person.name}: you are ${out.role}. Send /help to see what I can do.`);
  },
};

/** /link: ties identities on several platforms to one person. */
export const linkCommand: Command = {
  name: "link",
  usage: `/link  (get a code here, then send /link CODE on your other app)\n/link CODE  (works once, 10 minutes; ${DEFAULT_LINK_LIMITS.perPerson} wrong codes lock it for ${DEFAULT_LINK_LIMITS.windowMs / 60_000} minutes)\n/link here  (send my private messages to this app)`,
  open: true,
  async run(ctx) {
    const [code] = ctx.args;
    const { store, log, linkAttempts } = ctx.deps;
    const me = await store.personOf(ctx.msg.from.id);
    if (ctx.args.length > 1) return usage(ctx, linkCommand);
    if (!ctx.msg.isPrivate) return ctx.reply(me ? PRIVATE_ONLY : UNKNOWN_PERSON_REPLY);
    if (!code || code === "here") {
      if (!me) return ctx.reply(UNKNOWN_PERSON_REPLY);
      if (code === "here") {
        await store.setPreferred(me.id, ctx.msg.chat.platform);
        return ctx.reply(`I will message you on ${ctx.msg.chat.platform} from now on.`);
      }
      const issued = await store.issueToken("link", { person: me.id, ttlMs: LINK_TTL_MS });
      return ctx.reply(`On your other app, send me: /link ${issued}\nThe code works once, for 10 minutes.`);
    }
    // Guessing is the attack: past the limits, a code is not even looked at (the log never has it).
    const gate = linkAttempts.check(ctx.msg.from.id);
    if (!gate.ok) {
      log("bot_link_locked", { by: ctx.msg.from.id, scope: gate.scope });
      return ctx.reply(lockedText(gate));
    }
    const grant = await store.consumeToken("link", code.toUpperCase());
    log("bot_link", { by: ctx.msg.from.id, ok: Boolean(grant?.person) });
    if (!grant?.person || !(await store.person(grant.person))) {
      const after = linkAttempts.failed(ctx.msg.from.id);
      if (!after.ok) {
        log("bot_link_locked", { by: ctx.msg.from.id, scope: after.scope });
        return ctx.reply(`That code is not valid. ${lockedText(after)}`);
      }
      return ctx.reply(me ? "That code is not valid." : UNKNOWN_PERSON_REPLY);
    }
    if (me?.id === grant.person) return ctx.reply("This account is already linked.");
    if (me) return ctx.reply("This account already belongs to someone; ask an admin to sort it out.");
    await store.linkIdentity(ctx.msg.from.id, grant.person);
    await store.rememberPrivateChat(ctx.msg.from.id, ctx.msg.chat);
    return ctx.reply(`Linked. I will message you on ${ctx.msg.chat.platform} from now on.`);
  },
};

/** /invite ROLE: a one-time invitation token (admins; roles up to admin). */
export const inviteCommand: Command = {
  name: "invite",
  usage: "/invite member|approver|admin",
  async run(ctx) {
    const [role] = ctx.args;
    if (ctx.args.length !== 1 || !(role === "member" || role === "approver" || role === "admin"))
      return usage(ctx, inviteCommand);
    if (!(await need(ctx, "admin"))) return;
    if (!ctx.msg.isPrivate) return ctx.reply(PRIVATE_ONLY);
    const token = await ctx.deps.store.issueToken("invite", { role, ttlMs: INVITE_TTL_MS });
    const link = ctx.deps.webBase ? `\nWeb: ${ctx.deps.webBase.replace(/\/$/, "")}/invite/${token}` : "";
    return ctx.reply(
      `Invitation as ${role}, works once within 7 days. They send me:\n/start ${token}${link}`,
    );
  },
};

/** /role NAME_OR_ID ROLE. */
export const roleCommand: Command = {
  name: "role",
  usage: `/role NAME_OR_ID ${ROLES.join("|")}`,
  async run(ctx) {
    const [who, role] = ctx.args;
    if (ctx.args.length !== 2 || !who || !isRole(role)) return usage(ctx, roleCommand);
    if (!(await need(ctx, "admin"))) return;
    return setRole(ctx, who, role);
  },
};

async function setRole(ctx: CommandContext, who: string, role: Role): Promise<void> {
  const { store, log } = ctx.deps;
  const me = await store.personOf(ctx.msg.from.id);
  if (!me) return;
  let target = await store.findPerson(who);
  if (!target && !who.startsWith("role:") && isApproverId(who))
    target = await store.createPerson(who, who, "member");
  if (!target)
    return ctx.reply(`I don't know ${who} (or the name is ambiguous). Use their id, e.g. telegram:12345.`);
  if (me.role !== "owner" && (role === "owner" || target.role === "owner"))
    return ctx.reply("Only an owner can make or change an owner.");
  const owners = (await store.listPeople()).filter((p) => p.role === "owner");
  if (target.role === "owner" && role !== "owner" && owners.length <= 1)
    return ctx.reply("This Warden needs at least one owner.");
  await store.setRole(target.id, role);
  log("bot_role_set", { by: ctx.msg.from.id, person: target.id, role });
  return ctx.reply(`${target.name} is now ${role}.`);
}

function isRole(s: string | undefined): s is Role {
  return (ROLES as readonly (string | undefined)[]).includes(s);
}
