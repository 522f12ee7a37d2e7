/**
 * `/agent start|stop|list|logs|ask|answer`. Members may list agents and talk to them; admins start,
 * stop and read logs. Starting an agent from a chat binds it to that chat, so its replies come back
 * there; asking an agent that is bound nowhere binds it to the asking chat.
 */
import { AGENT_NAME } from "../../gateway/index.js";
import { type Command, type CommandContext, clip, errorLine, need, usage } from "./command.js";
import { beginFamilySetup } from "./setup.js";

const PROVIDER = /^[a-z][a-z0-9_-]{0,31}$/;

/** The /agent command. */
export const agentCommand: Command = {
  name: "agent",
  usage: [
    "/agent list",
    "/agent start NAME [provider]",
    "/agent stop NAME",
    "/agent logs NAME",
    "/agent ask NAME TEXT",
    "/agent answer NAME QUESTION_ID TEXT",
  ].join("\n"),
  async run(ctx) {
    const [sub, name, provider] = ctx.args;
    if (sub === "list" && ctx.args.length === 1) return list(ctx);
    if (!name || !AGENT_NAME.test(name)) return usage(ctx, agentCommand);
    const { control, store } = ctx.deps;
    if (sub === "start" && ctx.args.length <= 3) {
      if (provider !== undefined && !PROVIDER.test(provider)) return usage(ctx, agentCommand);
      if (!(await need(ctx, "admin"))) return;
      // The family assistant needs its parents and policy first: the first start is the guided setup.
      if (name === "family" && !control.listPolicies().some((p) => p.name === "family"))
        return beginFamilySetup(ctx, provider ?? "demo");
      try {
        const info = await control.startAgent(name, provider ?? "demo");
        const thread = (await ctx.channel.agentThread?.(name, ctx.msg.chat)) ?? ctx.msg.chat;
        await store.bind(name, thread);
        const started = `Started ${name} (${info.provider ?? provider ?? "demo"}).`;
        if (thread.chatId === ctx.msg.chat.chatId && thread.threadId === ctx.msg.chat.threadId) {
          return ctx.reply(`${started} Its replies come to this chat.`);
        }
        await ctx.channel.sendText(
          thread,
          `${started} Talk to it here; its replies and approval cards come to this thread.`,
        );
        return ctx.reply(`${started} It has its own thread: "${name}".`);
      } catch (err) {
        return ctx.reply(`Could not start ${name}: ${errorLine(err)}`);
      }
    }
    if (sub === "stop" && ctx.args.length === 2) {
      if (!(await need(ctx, "admin"))) return;
      const stopped = await control.stopAgent(name).catch(() => false);
      return ctx.reply(stopped ? `Stopped ${name}.` : `No running agent called ${name}.`);
    }
    if (sub === "logs" && ctx.args.length === 2) {
      if (!(await need(ctx, "admin"))) return;
      const logs = await control.agentLogs(name).catch((err: unknown) => `(no logs: ${errorLine(err)})`);
      return ctx.reply(logs.trim() ? clip(logs) : `${name} has no logs yet.`);
    }
    if (sub === "ask") {
      const text = rest(ctx, 2);
      if (!text) return usage(ctx, agentCommand);
      if (!(await need(ctx, "member"))) return;
      // Replies need somewhere to go: an agent bound nowhere gets this chat.
      if ((await store.bindingsOf(name)).length === 0) await store.bind(name, ctx.msg.chat);
      await control.tellAgent(name, text, ctx.msg.from.id);
      return ctx.reply(`Sent to ${name}.`);
    }
    if (sub === "answer" && provider) {
      const text = rest(ctx, 3);
      if (!text) return usage(ctx, agentCommand);
      if (!(await need(ctx, "member"))) return;
      const ok = control.answerAgent(name, provider, text);
      return ctx.reply(ok ? `Answered ${name}.` : `${name} has no open question ${provider}.`);
    }
    return usage(ctx, agentCommand);
  },
};

async function list(ctx: CommandContext): Promise<void> {
  if (!(await need(ctx, "member"))) return;
  const agents = await ctx.deps.control.listAgents();
  if (agents.length === 0) return ctx.reply("No agents yet. Start one with /agent start NAME.");
  return ctx.reply(
    agents.map((a) => `${a.name}: ${a.state}${a.provider ? ` (${a.provider})` : ""}`).join("\n"),
  );
}

/** The text after the first `words` words of the first line, plus any following lines. */
function rest(ctx: CommandContext, words: number): string {
  let line = ctx.argText;
  for (let i = 0; i < words; i++) line = line.replace(/^\S+\s*/, "");
  return [line, ctx.body]
    .filter((s) => s.trim())
    .join("\n")
    .trim();
}
