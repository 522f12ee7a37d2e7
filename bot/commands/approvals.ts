/**
 * `/approvals` (pending requests with their ids, for members and up) and `/audit [N]` (the last N
 * audit entries, for admins). Audit entries never hold secret values (the gateway guarantees it);
 * each is still bounded so one odd entry cannot flood the chat.
 */
import { formatDuration } from "../cards.js";
import { type Command, clip, need, usage } from "./command.js";

/** The /approvals command. */
export const approvalsCommand: Command = {
  name: "approvals",
  usage: "/approvals",
  async run(ctx) {
    if (ctx.args.length > 0) return usage(ctx, approvalsCommand);
    if (!(await need(ctx, "member"))) return;
    const pending = await ctx.deps.control.listApprovals("pending");
    if (pending.length === 0) return ctx.reply("Nothing is waiting for approval.");
    const now = ctx.deps.now();
    const lines = pending.map(
      (a) =>
        `${a.id}  ${a.agent} ${a.method} ${clip(`${a.host}${a.path}`, 120)}  ` +
        `(${a.approvals.length} of ${a.needed}, expires in ${formatDuration(Date.parse(a.expiresAt) - now)})`,
    );
    return ctx.reply(`Waiting for approval:\n${lines.join("\n")}`);
  },
};

const MAX_AUDIT = 50;
const PAGE = 500;

/** The /audit command. */
export const auditCommand: Command = {
  name: "audit",
  usage: `/audit [N]  (last N entries, at most ${MAX_AUDIT}; default 10)`,
  async run(ctx) {
    const [arg] = ctx.args;
    if (ctx.args.length > 1 || (arg !== undefined && !/^[1-9][0-9]{0,3}$/.test(arg)))
      return usage(ctx, auditCommand);
    if (!(await need(ctx, "admin"))) return;
    const n = Math.min(Number(arg ?? 10), MAX_AUDIT);
    // The API pages forward from a sequence number; keep a sliding window of the last n.
    let last: Awaited<ReturnType<typeof ctx.deps.control.listAudit>> = [];
    for (let after = 0; ; ) {
      const page = await ctx.deps.control.listAudit(after, PAGE);
      last = [...last, ...page].slice(-n);
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.seq ?? after;
    }
    if (last.length === 0) return ctx.reply("The audit log is empty.");
    const lines = last.map(
      (e) => `#${e.seq} ${new Date(e.ts).toISOString()} ${clip(JSON.stringify(e.entry), 300)}`,
    );
    return ctx.reply(lines.join("\n"));
  },
};
