/**
 * Runs agents: prepares each one's socket directory and workspace, opens its gateway socket, starts
 * its sandbox through a `Runtime`, restarts it with backoff when it crashes, and stops it when asked
 * or when idle. The container's env holds proxy settings and placeholders only, never a real secret.
 */
import { randomBytes } from "node:crypto";
import { chmod, chown, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { proxyEnv } from "../gateway/index.js";
import { type AgentHandle, DEFAULT_LIMITS, type Limits, type Provider, type Runtime } from "./runtime.js";

/** What the manager needs from the gateway. */
export interface GatewayPort {
  register(agent: string): Promise<void>;
  listenAgentSocket(agent: string, path: string): Promise<void>;
  closeAgentSocket(agent: string): Promise<void>;
  placeholderEnv(agent: string): Promise<Record<string, string>>;
  /** System roots + the Warden CA, PEM; copied to /run/warden/ca.pem. */
  readonly bundlePem: string;
}

/** Per-agent, non-secret settings. */
export interface AgentSettings {
  readonly provider: Provider;
  readonly env?: Readonly<Record<string, string>>;
  readonly limits?: Partial<Limits>;
}

export interface AgentState {
  readonly name: string;
  readonly provider: Provider;
  readonly state: "starting" | "running" | "restarting" | "idle" | "stopped" | "failed";
  readonly restarts: number;
  readonly lastError: string | null;
}

export interface AgentManagerOptions {
  readonly runtime: Runtime;
  readonly gateway: GatewayPort;
  /** WARDEN_HOME/agents */
  readonly dir: string;
  readonly image: string;
  readonly log?: (event: string, fields: Record<string, unknown>) => void;
  /** Backoff after a crash: base × 2^n, capped. Defaults 1 s and 60 s. */
  readonly backoffMs?: { base: number; max: number };
  /** Stop a container after this long without activity (it wakes on the next message). 0 = never. Default 30 min. */
  readonly idleStopMs?: number;
}

const IN_CONTAINER = "/run/warden/ca.pem";

/** Creates the manager. Call `stopAll()` on shutdown. */
export function createAgentManager(opts: AgentManagerOptions) {
  const { runtime, gateway, log = () => undefined } = opts;
  const backoff = opts.backoffMs ?? { base: 1000, max: 60_000 };
  const idleStopMs = opts.idleStopMs ?? 30 * 60_000;
  const agents = new Map<
    string,
    {
      settings: AgentSettings;
      state: AgentState;
      timer?: NodeJS.Timeout;
      idle?: NodeJS.Timeout;
      wanted: boolean;
    }
  >();

  /** Activity pushes the idle stop further away. */
  function touch(name: string): void {
    const a = agents.get(name);
    if (!a || idleStopMs <= 0) return;
    clearTimeout(a.idle);
    a.idle = setTimeout(() => {
      if (!a.wanted || a.state.state !== "running") return;
      // Idle stop is not a crash: mark it first so the exit does not trigger a restart.
      set(name, { state: "idle" });
      log("agent_idle_stop", { agent: name, afterMs: idleStopMs });
      void runtime.stop(name).then(() => gateway.closeAgentSocket(name));
    }, idleStopMs);
    a.idle.unref();
  }

  function set(name: string, patch: Partial<AgentState>): void {
    const a = agents.get(name);
    if (a) a.state = { ...a.state, ...patch };
  }

  // Settings are non-secret (provider, model URL, limits): kept beside the workspace so a restart of
  // Warden brings back the agents that were running.
  async function remember(name: string, settings: AgentSettings, wanted: boolean): Promise<void> {
    await mkdir(join(opts.dir, name), { recursive: true, mode: 0o700 });
    await writeFile(join(opts.dir, name, "settings.json"), JSON.stringify({ settings, wanted }), {
      mode: 0o600,
    });
  }

  async function recall(name: string): Promise<{ settings: AgentSettings; wanted: boolean } | undefined> {
    try {
      const raw = JSON.parse(await readFile(join(opts.dir, name, "settings.json"), "utf8")) as {
        settings?: AgentSettings;
        wanted?: boolean;
      };
      const provider = raw.settings?.provider;
      if (provider !== "demo" && provider !== "openai" && provider !== "claude") return undefined;
      return { settings: { ...raw.settings, provider }, wanted: raw.wanted === true };
    } catch {
      return undefined; // unreadable or hand-edited badly: do not start it
    }
  }

  async function prepare(name: string): Promise<{ socketDir: string; workspaceDir: string }> {
    const socketDir = join(opts.dir, name, "run");
    const workspaceDir = join(opts.dir, name, "workspace");
    await mkdir(socketDir, { recursive: true, mode: 0o755 });
    await mkdir(workspaceDir, { recursive: true, mode: 0o700 });
    await chmod(socketDir, 0o755);
    // The container runs as uid 1000; when we are root give it the workspace, else open it up.
    await chown(workspaceDir, 1000, 1000).catch(() => chmod(workspaceDir, 0o777));
    // A fresh file renamed over ca.pem: rename replaces a symlink planted there, writeFile would follow it.
    // A random name created exclusively (O_EXCL follows no symlink either).
    const tmp = join(socketDir, `.ca.pem.${randomBytes(6).toString("hex")}`);
    await writeFile(tmp, gateway.bundlePem, { mode: 0o644, flag: "wx" });
    await rename(tmp, join(socketDir, "ca.pem"));
    await gateway.listenAgentSocket(name, join(socketDir, "gateway.sock"));
    return { socketDir, workspaceDir };
  }

  async function launch(name: string): Promise<AgentHandle> {
    const a = agents.get(name);
    if (!a) throw new Error(`unknown agent ${name}`);
    const dirs = await prepare(name);
    const env = {
      ...a.settings.env,
      ...proxyEnv("http://127.0.0.1:3128", IN_CONTAINER, IN_CONTAINER),
      NO_PROXY: "",
      no_proxy: "",
      ...(await gateway.placeholderEnv(name)),
      WARDEN_AGENT: name,
      WARDEN_PROVIDER: a.settings.provider,
    };
    const handle = await runtime.start({
      name,
      provider: a.settings.provider,
      image: opts.image,
      ...dirs,
      env,
      limits: { ...DEFAULT_LIMITS, ...a.settings.limits },
    });
    set(name, { state: "running", lastError: null });
    touch(name);
    const startedAt = Date.now();
    void handle.exited.then(({ code }) => onExit(name, code, Date.now() - startedAt));
    return handle;
  }

  function onExit(name: string, code: number, ranMs: number): void {
    const a = agents.get(name);
    if (!a?.wanted || a.state.state === "idle") return;
    // A run that lasted a while resets the backoff; a crash loop backs off up to the cap.
    const restarts = ranMs > backoff.max ? 0 : a.state.restarts + 1;
    const delay = Math.min(backoff.base * 2 ** Math.max(0, restarts - 1), backoff.max);
    set(name, { state: "restarting", restarts, lastError: `exited with code ${code}` });
    log("agent_crashed", { agent: name, code, restartInMs: delay });
    a.timer = setTimeout(() => {
      if (!a.wanted) return;
      launch(name).catch((err: Error) => {
        set(name, { state: "failed", lastError: err.message });
        onExit(name, -1, 0);
      });
    }, delay);
    a.timer.unref();
  }

  return {
    /** Starts (or restarts) an agent and waits until its runner is ready. */
    async start(name: string, settings: AgentSettings): Promise<AgentState> {
      await remember(name, settings, true);
      const prev = agents.get(name);
      if (prev?.timer) clearTimeout(prev.timer);
      await gateway.register(name);
      agents.set(name, {
        settings,
        wanted: true,
        state: { name, provider: settings.provider, state: "starting", restarts: 0, lastError: null },
      });
      log("agent_starting", { agent: name, provider: settings.provider });
      try {
        await launch(name);
      } catch (err) {
        set(name, { state: "failed", lastError: (err as Error).message });
        const a = agents.get(name);
        if (a) a.wanted = false;
        throw err;
      }
      log("agent_started", { agent: name });
      return agents.get(name)?.state as AgentState;
    },

    /** Stops an agent; unless `keep` (shutdown), it also stays stopped across restarts. */
    async stop(name: string, keep = false): Promise<boolean> {
      const a = agents.get(name);
      if (a && !keep) await remember(name, a.settings, false);
      if (a) {
        a.wanted = false;
        clearTimeout(a.timer);
        clearTimeout(a.idle);
        set(name, { state: "stopped" });
      }
      await runtime.stop(name);
      await gateway.closeAgentSocket(name);
      return a !== undefined;
    },

    touch,

    /** Starts an idle-stopped agent again (called when a message arrives for it). */
    async wake(name: string): Promise<void> {
      const a = agents.get(name);
      if (!a?.wanted || a.state.state !== "idle") return touch(name);
      set(name, { state: "starting" });
      log("agent_waking", { agent: name });
      await launch(name).catch((err: Error) => {
        set(name, { state: "failed", lastError: err.message });
      });
    },

    /** Starts every agent that was running when the previous process stopped; returns their names. */
    async resume(): Promise<string[]> {
      const names = await readdir(opts.dir).catch(() => [] as string[]);
      const resumed: string[] = [];
      for (const name of names) {
        const saved = await recall(name);
        if (!saved?.wanted) continue;
        try {
          await this.start(name, saved.settings);
          resumed.push(name);
        } catch (err) {
          log("agent_resume_failed", { agent: name, error: (err as Error).message });
        }
      }
      return resumed;
    },

    state: (name: string): AgentState | undefined => agents.get(name)?.state,
    list: (): AgentState[] => [...agents.values()].map((a) => a.state),

    async stopAll(): Promise<void> {
      // Shutdown: stop the containers but remember them as wanted, so the next start resumes them.
      await Promise.all([...agents.keys()].map((n) => this.stop(n, true).catch(() => false)));
    },
  };
}

export type AgentManager = ReturnType<typeof createAgentManager>;
