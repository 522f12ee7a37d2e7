/**
 * In-memory `Runtime`: a Map of "containers" whose exit the test can trigger with `crash(name)`.
 * Checked against the same contract suite as the Docker runtime (test/contracts/runtime.contract.ts).
 */
import type { AgentHandle, AgentSpec, Runtime } from "../../agents/runtime.js";

interface FakeContainer {
  spec: AgentSpec;
  id: string;
  exit: (code: number) => void;
}

export function createFakeRuntime() {
  const containers = new Map<string, FakeContainer>();
  const started: AgentSpec[] = [];
  let n = 0;
  const runtime: Runtime = {
    async start(spec) {
      containers.get(spec.name)?.exit(137);
      let exit!: (code: number) => void;
      const exited = new Promise<{ code: number }>((resolve) => {
        exit = (code) => resolve({ code });
      });
      const c: FakeContainer = { spec, id: `fake-${++n}`, exit };
      containers.set(spec.name, c);
      void exited.then(() => {
        if (containers.get(spec.name) === c) containers.delete(spec.name);
      });
      started.push(spec);
      return { name: spec.name, id: c.id, state: "running", exited } satisfies AgentHandle;
    },
    async stop(name) {
      containers.get(name)?.exit(0);
      containers.delete(name);
    },
    async list() {
      return [...containers.values()].map((c) => ({ name: c.spec.name, id: c.id, state: "running" }));
    },
    async logs(name) {
      return containers.has(name) ? '{"event":"runner_ready"}\n' : "";
    },
    async exec(name, cmd) {
      if (!containers.has(name)) throw new Error(`no container for ${name}`);
      return { exitCode: 0, output: cmd.join(" ") };
    },
    async cleanupOrphans() {
      const count = containers.size;
      for (const c of containers.values()) c.exit(137);
      containers.clear();
      return count;
    },
  };
  return {
    runtime,
    started,
    /** Simulates the agent process dying. */
    crash(name: string, code = 1): void {
      containers.get(name)?.exit(code);
    },
  };
}
