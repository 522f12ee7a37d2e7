/**
 * `/policy list|show|edit|test|reload`. Members may list; admins read, edit, test and reload. An edit
 * carries the YAML after the command (next lines, or inside a ``` block); the ControlPort validates
 * it against every other file and keeps the old file on any error, which we show with line numbers.
 */
import { type Command, type CommandContext, clip, need, usage } from "./command.js";

const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const METHOD = /^[A-Za-z]{1,16}$/;

/** The /policy command. */
export const policyCommand: Command = {
  name: "policy",
  usage: [
    "/policy list",
    "/policy show NAME",
    "/policy edit NAME  (the YAML on the following lines, or in a ``` block)",
    "/policy test AGENT METHOD URL",
    "/policy reload",
  ].join("\n"),
  async run(ctx) {
    const [sub, name] = ctx.args;
    const { control } = ctx.deps;
    if (sub === "list" && ctx.args.length === 1) {
      if (!(await need(ctx, "member"))) return;
      const all = control.listPolicies();
      if (all.length === 0) return ctx.reply("No policies: every request is denied.");
      return ctx.reply(all.map((p) => `${p.name}: ${p.hosts.join(", ")}`).join("\n"));
    }
    if (sub === "reload" && ctx.args.length === 1) {
      if (!(await need(ctx, "admin"))) return;
      const out = await control.reloadPolicies();
      return ctx.reply(
        out.ok ? "Policies reloaded." : `Reload failed; the old policies stay in force:\n${clip(out.errors)}`,
      );
    }
    if (sub === "show" && ctx.args.length === 2 && name && POLICY_NAME.test(name)) {
      if (!(await need(ctx, "admin"))) return;
      const text = await control.readPolicy(name);
      return ctx.reply(
        text === undefined ? `No policy called ${name}.` : `\`\`\`\n${clip(text, 12000)}\n\`\`\``,
      );
    }
    if (sub === "edit" && name && POLICY_NAME.test(name)) return edit(ctx, name);
    if (sub === "test" && ctx.args.length === 4) return test(ctx);
    return usage(ctx, policyCommand);
  },
};

async function edit(ctx: CommandContext, name: string): Promise<void> {
  const yaml = yamlOf(ctx);
  if (yaml === undefined) return usage(ctx, policyCommand);
  if (!(await need(ctx, "admin"))) return;
  const out = await ctx.deps.control.writePolicy(name, yaml);
  ctx.deps.log("bot_policy_edit", { by: ctx.msg.from.id, policy: name, ok: out.ok });
  if (out.ok) return ctx.reply(`Policy ${name} saved and reloaded.`);
  return ctx.reply(`Policy ${name} not changed; the old file stays in force:\n${clip(out.errors)}`);
}

/** The YAML of an edit: a fenced block anywhere after the name, else the lines after the command. */
export function yamlOf(ctx: Pick<CommandContext, "argText" | "body">): string | undefined {
  const after = `${ctx.argText.replace(/^\S+\s+\S+/, "")}\n${ctx.body}`;
  const fence = /```[A-Za-z]*[ \t]*\n([\s\S]*?)```/.exec(after);
  // Line numbers in errors count from the first YAML line, which is what the person sees in the block.
  const yaml = fence ? fence[1] : ctx.body;
  return yaml?.trim() ? yaml : undefined;
}

async function test(ctx: CommandContext): Promise<void> {
  const [, agent, method, url] = ctx.args as [string, string, string, string];
  if (!METHOD.test(method) || !/^https?:\/\//i.test(url)) return usage(ctx, policyCommand);
  if (!(await need(ctx, "admin"))) return;
  const d = ctx.deps.control.testPolicy(agent, method.toUpperCase(), url);
  if ("error" in d) return ctx.reply(`Cannot test that: ${d.error}`);
  if (d.verdict === "deny") return ctx.reply(`deny (${d.reason}${d.rule ? `, rule ${d.rule}` : ""})`);
  if (d.verdict === "approve")
    return ctx.reply(
      `approve: policy ${d.policy}, rule ${d.rule}, ${d.approvals} of ${d.approvers.join(", ")}`,
    );
  return ctx.reply(`allow: policy ${d.policy}, rule ${d.rule}`);
}
