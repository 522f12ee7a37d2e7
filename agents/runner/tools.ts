/**
 * Assembles the {@link Tools} a brain receives: the proxied http tool, the workspace tools and the
 * mailbox's ask/status. Status updates are best effort on purpose: losing a "thinking" indicator must
 * never fail the task the human asked for.
 */
import type { Tools } from "./brain.js";
import { createHttpTool } from "./http-tool.js";
import type { AgentState, MailboxClient } from "./mailbox-client.js";
import type { ProxyEndpoint } from "./proxy-request.js";
import { createWorkspaceTools } from "./workspace-tools.js";

/** Options for {@link createTools}. */
export interface ToolsOptions {
  readonly proxy: ProxyEndpoint;
  readonly caPath: string;
  readonly workspace: string;
  readonly mailbox: MailboxClient;
  /** Where best-effort failures are reported; default: dropped. */
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** How long a request may be outstanding before we tell the chat it awaits approval. */
  readonly heldAfterMs?: number;
  readonly extraRoots?: readonly string[];
}

/** Builds the tool set for one runner; the same object serves every message. */
export function createTools(options: ToolsOptions): Tools {
  const { mailbox, log = () => {} } = options;

  async function status(state: AgentState, detail?: string): Promise<void> {
    try {
      await mailbox.status(state, detail);
    } catch (err) {
      log("status_failed", { state, error: err instanceof Error ? err.message : String(err) });
    }
  }

  const http = createHttpTool({
    proxy: options.proxy,
    caPath: options.caPath,
    heldAfterMs: options.heldAfterMs,
    // Slow usually means a human is looking at an approval card; say so in the chat, then go back.
    onHeld: (held, req) => {
      void status(held ? "waiting_approval" : "thinking", held ? `${req.method} ${req.url}` : undefined);
    },
  });

  return {
    http,
    ...createWorkspaceTools({ workspace: options.workspace, extraRoots: options.extraRoots }),
    ask: (question) => mailbox.ask(question),
    status,
  };
}
