/**
 * The seam between the runner loop and whatever thinks: a scripted demo, an OpenAI-compatible model,
 * or the Claude Agent SDK. A brain gets one chat message and the tools, and returns the reply text.
 * Tools hold no credentials: every request they make is checked (and maybe held) by the gateway.
 */
import type { HttpRequestFn } from "./http-tool.js";
import type { AgentState, InboxMessage } from "./mailbox-client.js";

export type { InboxMessage } from "./mailbox-client.js";

/** Result of one shell command run in the workspace. */
export interface ShellResult {
  /** `null` when the process was killed (timeout or signal). */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly truncated: boolean;
}

/** What a brain may do. File tools refuse paths outside the workspace and /tmp. */
export interface Tools {
  readonly http: HttpRequestFn;
  shell(command: string): Promise<ShellResult>;
  readFile(path: string): Promise<string>;
  writeFile(path: string, content: string): Promise<void>;
  /** Asks the human in the chat and waits for the answer. */
  ask(question: string): Promise<string>;
  /** Best effort: a failed status update never fails the task. */
  status(state: AgentState, detail?: string): Promise<void>;
}

/** Handles one chat message and returns the reply. Throwing reports `error: …` to the chat. */
export interface Brain {
  handle(message: InboxMessage, tools: Tools): Promise<string>;
}
