/**
 * Brain backed by the Claude Agent SDK (`@anthropic-ai/claude-agent-sdk`). The SDK runs its own tools
 * (shell, files, web fetch) in a child process; that child inherits the proxy and CA variables, so
 * all of its traffic goes through the gateway, and ANTHROPIC_API_KEY is only a placeholder. The
 * package is loaded at run time because the offline image may not contain it: without it this
 * provider fails with `provider_unavailable` instead of breaking the whole runner at import.
 *
 * Inside the container (read-only root, noexec /tmp, HOME=/workspace) the SDK finds its native
 * binary in /opt/warden/node_modules by itself and runs it directly; nothing is extracted to /tmp.
 * test/agents/claude.test.ts runs it against a fake Messages API through the gateway.
 */
import type { Brain } from "../brain.js";
import { RunnerError } from "../errors.js";

const SDK_PACKAGE = "@anthropic-ai/claude-agent-sdk";

/** The slice of the SDK we use, typed locally so this file compiles without the package. */
interface ClaudeSdk {
  query(args: { prompt: string; options?: Record<string, unknown> }): AsyncIterable<ClaudeSdkMessage>;
}

/** Messages the SDK streams; only the final `result` and the session id matter here. */
interface ClaudeSdkMessage {
  readonly type: string;
  readonly subtype?: string;
  readonly result?: string;
  readonly session_id?: string;
  readonly is_error?: boolean;
  readonly errors?: readonly string[];
}

/** Options for {@link createClaudeBrain}. */
export interface ClaudeBrainOptions {
  readonly workspace: string;
  /** Env for the SDK's child process: proxy vars, CA vars, ANTHROPIC_API_KEY/BASE_URL placeholders. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly model?: string;
  readonly agentName?: string;
  /** Loads the SDK; injectable for tests. Default: dynamic `import()`. */
  readonly loadModule?: (name: string) => Promise<unknown>;
}

/** Creates a brain that hands each message to the Claude Agent SDK and returns its final result. */
export function createClaudeBrain(options: ClaudeBrainOptions): Brain {
  const load = options.loadModule ?? ((name: string) => import(name as string));
  let sdk: Promise<ClaudeSdk> | undefined;
  // Resumed across messages so the chat is one conversation, as with the other brains.
  let sessionId: string | undefined;

  return {
    async handle(message) {
      sdk ??= loadSdk(load);
      const { query } = await sdk;
      let result: string | undefined;
      for await (const m of query({
        prompt: message.text,
        options: {
          cwd: options.workspace,
          // Telemetry, event logging and feature-flag fetches would leave the sandbox with the
          // operator's key (each one an audited egress, maybe an approval card); the operator can
          // still turn them back on by setting the variable in the agent's env.
          env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", ...options.env },
          // The container and the gateway are the fence; inside it the SDK must not stop to ask a
          // terminal nobody is watching. Approvals for risky requests happen at the gateway.
          permissionMode: "bypassPermissions",
          allowDangerouslySkipPermissions: true,
          systemPrompt: { type: "preset", preset: "claude_code", append: appendix(options.agentName) },
          ...(options.model ? { model: options.model } : {}),
          ...(sessionId ? { resume: sessionId } : {}),
        },
      })) {
        if (m.session_id) sessionId = m.session_id;
        if (m.type !== "result") continue;
        if (m.subtype === "success" && !m.is_error) result = m.result ?? "";
        else
          throw new RunnerError(
            "model_error",
            `Claude run ended with ${m.subtype}: ${(m.errors ?? []).join("; ")}`,
          );
      }
      if (result === undefined) throw new RunnerError("model_error", "Claude run ended without a result");
      return result;
    },
  };
}

async function loadSdk(load: (name: string) => Promise<unknown>): Promise<ClaudeSdk> {
  let mod: unknown;
  try {
    mod = await load(SDK_PACKAGE);
  } catch (cause) {
    throw new RunnerError(
      "provider_unavailable",
      `the claude provider needs ${SDK_PACKAGE}, which is not installed in this image; ` +
        "install it into the image or start the agent with --provider openai or demo",
      { cause },
    );
  }
  const query = (mod as Partial<ClaudeSdk> | null)?.query;
  if (typeof query !== "function") {
    throw new RunnerError("provider_unavailable", `${SDK_PACKAGE} does not export query()`);
  }
  return { query };
}

function appendix(agent = "agent"): string {
  return [
    `You are "${agent}", running in a Warden sandbox and answering a person in a chat.`,
    "All network traffic passes the Warden gateway: some requests wait for a human's approval, some are",
    "refused (the response has an x-warden-error header). Report refusals honestly; never work around them.",
    "Credentials in the environment are placeholders that the gateway swaps for real values.",
  ].join("\n");
}
