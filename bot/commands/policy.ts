/**
 * `/policy list|show|edit|save|test|reload`. Members may list; admins read, edit, test and reload. An
 * edit carries the YAML after the command (next lines, or inside a ``` block); the ControlPort
 * validates it against every other file and keeps the old file on any error, which we show with line
 * numbers. Before saving, an edit is replayed against the last 24 h of audited requests; when
 * decisions would change, it waits for `/policy save NAME` (policy-replay.ts).
 */
import { type Command, type CommandContext, clip, need, usage } from "./command.js";
import { EDIT_REPLAY_WINDOW, formatReplay, holdDraft, takeDraft } from "./policy-replay.js";

const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const METHOD = /^[A-Za-z]{1,16}$/;

/** The /policy command. */
export const policyCommand: Command = {
  name: "policy",
  usage: [
    "/policy list",
    "/policy show NAME",
    "/policy edit NAME  (the YAML on the following lines, or in a ``` block; replayed against the last 24h first)",
    "/policy save NAME  (saves an edit whose replay changed decisions)",
    "/policy test AGENT METHOD URL",
    "/policy test NAME --replay 24h  (audited requests against NAME as on disk, or the YAML that follows)",
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
    if (sub === "save" && ctx.args.length === 2 && name && POLICY_NAME.test(name)) return save(ctx, name);
    if (
      sub === "test" &&
      name &&
      POLICY_NAME.test(name) &&
      ctx.args[2] === "--replay" &&
      ctx.args.length === 4
    )
      return replayTest(ctx, name, ctx.args[3] as string);
    if (sub === "test" && ctx.args.length === 4) return test(ctx);
    return usage(ctx, policyCommand);
  },
};

async function edit(ctx: CommandContext, name: string): Promise<void> {
  const yaml = yamlOf(ctx);
  if (yaml === undefined) return usage(ctx, policyCommand);
  if (!(await need(ctx, "admin"))) return;
  // Replay first: an edit that would change decisions people relied on waits for confirmation.
  const replay = await ctx.deps.control.replayPolicy?.({ policy: name, yaml, window: EDIT_REPLAY_WINDOW });
  if (replay && !replay.ok && replay.code === "policy_invalid")
    return ctx.reply(`Policy ${name} not changed; the old file stays in force:\n${clip(replay.message)}`);
  if (replay?.ok && replay.report.changed > 0) {
    holdDraft(ctx.deps, ctx.msg.from.id, name, yaml);
    ctx.deps.log("bot_policy_held", { by: ctx.msg.from.id, policy: name, changed: replay.report.changed });
    return ctx.reply(
      `${formatReplay(replay.report, { label: `Before saving ${name}, a replay` })}\n` +
        `Not saved yet. Send /policy save ${name} within 15 minutes to save it, or send a new edit.`,
    );
  }
  const note = replay?.ok && replay.report.total > 0 ? `\n${formatReplay(replay.report)}` : "";
  return write(ctx, name, yaml, note);
}

async function write(ctx: CommandContext, name: string, yaml: string, note = ""): Promise<void> {
  const out = await ctx.deps.control.writePolicy(name, yaml);
  ctx.deps.log("bot_policy_edit", { by: ctx.msg.from.id, policy: name, ok: out.ok });
  if (out.ok) return ctx.reply(`Policy ${name} saved and reloaded.${note}`);
  return ctx.reply(`Policy ${name} not changed; the old file stays in force:\n${clip(out.errors)}`);
}

/** `/policy save NAME`: writes the sender's own held edit of NAME. */
async function save(ctx: CommandContext, name: string): Promise<void> {
  if (!(await need(ctx, "admin"))) return;
  const yaml = takeDraft(ctx.deps, ctx.msg.from.id, name);
  if (yaml === undefined) return ctx.reply(`No edit of ${name} is waiting (edits wait 15 minutes).`);
  return write(ctx, name, yaml);
}

/** `/policy test NAME --replay WINDOW`, optionally with edited YAML after it. Writes nothing. */
async function replayTest(ctx: CommandContext, name: string, window: string): Promise<void> {
  if (!(await need(ctx, "admin"))) return;
  const replay = ctx.deps.control.replayPolicy;
  if (!replay) return ctx.reply("Replay is not available here.");
  const yaml = yamlOf(ctx);
  const r = await replay({ policy: name, window, ...(yaml !== undefined && { yaml }) });
  ctx.deps.log("bot_policy_replay", { by: ctx.msg.from.id, policy: name, ok: r.ok });
  if (r.ok) return ctx.reply(formatReplay(r.report));
  if (r.code === "bad_window")
    return ctx.reply("The window is a duration like 30m, 24h or 7d (at most 30d).");
  if (r.code === "not_found") return ctx.reply(`No policy called ${name}.`);
  return ctx.reply(`Cannot replay that:\n${clip(r.message)}`);
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
