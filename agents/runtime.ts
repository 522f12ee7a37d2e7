/**
 * Starts and stops agent sandboxes. Real implementation: docker-runtime.ts (dockerode); fake:
 * test/fakes/fake-runtime.ts. A sandbox has no network; its only way out is the socket directory.
 */

export type Provider = "demo" | "openai" | "claude";

/** Resource limits; defaults in `DEFAULT_LIMITS`. */
export interface Limits {
  readonly memoryMb: number;
  readonly cpus: number;
  readonly pids: number;
}

export const DEFAULT_LIMITS: Limits = { memoryMb: 512, cpus: 1, pids: 256 };

export interface AgentSpec {
  readonly name: string;
  readonly provider: Provider;
  readonly image: string;
  /** Host directory mounted at /run/warden: holds gateway.sock and ca.pem, nothing else. */
  readonly socketDir: string;
  /** Host directory mounted at /workspace (the agent's only writable place besides /tmp). */
  readonly workspaceDir: string;
  /** Placeholders and provider settings; never a real secret. */
  readonly env: Readonly<Record<string, string>>;
  readonly limits: Limits;
}

export interface AgentHandle {
  readonly name: string;
  readonly id: string;
  readonly state: "running" | "exited" | "created" | "unknown";
  /** Resolves when the sandbox stops, for whatever reason. */
  readonly exited: Promise<{ code: number }>;
}

export interface Runtime {
  /** Starts the sandbox and resolves once its runner reported ready (throws on timeout). */
  start(spec: AgentSpec): Promise<AgentHandle>;
  /** Stops and removes the sandbox; no error when it is not running. */
  stop(name: string): Promise<void>;
  list(): Promise<{ name: string; id: string; state: string }[]>;
  logs(name: string, tail?: number): Promise<string>;
  /** Runs a command as the agent's user; for operators (`warden agent exec`). */
  exec(name: string, cmd: readonly string[]): Promise<{ exitCode: number; output: string }>;
  /** Removes sandboxes a previous run left behind (found by label). Returns how many. */
  cleanupOrphans(): Promise<number>;
}

/**
 * The runtime cannot run agents safely right now (e.g. Kubernetes RBAC forbids the NetworkPolicy that
 * isolates them), so it refused before creating anything. Stable wire form: HTTP 503, code
 * `runtime_unavailable`; `resource` names what could not be ensured (e.g. `NetworkPolicy
 * warden-agents/warden-agents-default-deny`). The message carries no secret: names and status only.
 */
export class RuntimeUnavailable extends Error {
  override readonly name = "RuntimeUnavailable";
  readonly code = "runtime_unavailable" as const;
  readonly status = 503 as const;
  constructor(
    readonly resource: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
