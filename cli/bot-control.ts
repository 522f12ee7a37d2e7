/**
 * The bot's `ControlPort` over the in-process gateway and agent manager (wiring for `warden start`).
 * Policy edits are validated together with every other file before anything is written, and are
 * written atomically, so a bad paste can never replace a working policy.
 */
import { readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AgentManager } from "../agents/manager.js";
import type { Provider } from "../agents/runtime.js";
import type { ControlPort, PolicyCheckOutcome, PolicyWriteOutcome } from "../bot/control-port.js";
import { type Gateway, testPolicy } from "../gateway/index.js";
import { compilePolicies, formatIssues } from "../policies/index.js";

const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const PROVIDERS = new Set(["demo", "openai", "claude"]);

export interface BotControlOptions {
  readonly gateway: Gateway;
  readonly policiesDir: string;
  /** Absent when no Docker engine answers; agent commands then explain why. */
  readonly manager: () => AgentManager | undefined;
  readonly agentEnv: Record<string, string>;
  readonly noRuntime: () => string;
  readonly logs: (name: string) => Promise<string>;
}

export function createBotControl(o: BotControlOptions): ControlPort {
  const gw = o.gateway;
  const manager = (): AgentManager => {
    const m = o.manager();
    if (!m) throw new Error(o.noRuntime());
    return m;
  };
  const fileOf = (name: string): string => {
    if (!POLICY_NAME.test(name)) throw new Error("policy names are lowercase letters, digits, - and _");
    return `${name}.yaml`;
  };
  // A candidate text for `name` compiled together with every other file of the directory.
  const compileWith = async (name: string, yaml: string) => {
    const file = gw.policies.set.policies.find((x) => x.name === name)?.file ?? fileOf(name);
    const names = (await readdir(o.policiesDir)).filter((n) => /\.ya?ml$/.test(n) && n !== file);
    const files = await Promise.all(
      names.map(async (n) => ({ file: n, text: await readFile(join(o.policiesDir, n), "utf8") })),
    );
    return { file, result: compilePolicies([...files, { file, text: yaml }]) };
  };
  return {
    listApprovals: (state) => gw.approvals.list(state),
    getApproval: (id) => gw.approvals.get(id),
    decide: (id, input) => gw.approvals.decide(id, input),
    // The whole held request for the web chat's full-request page (secrets named, never shown).
    heldRequest: (id) => gw.heldRequest(id),

    async startAgent(name, provider) {
      if (!PROVIDERS.has(provider)) throw new Error("provider is one of demo, openai, claude");
      if (!(await gw.credentials.hasAgent(name))) await gw.credentials.issueToken(name);
      const s = await manager().start(name, { provider: provider as Provider, env: o.agentEnv });
      return { name, state: s.state, provider };
    },
    stopAgent: (name) => manager().stop(name),
    async listAgents() {
      const m = o.manager();
      return (await gw.credentials.listAgents()).map((name) => {
        const s = m?.state(name);
        return { name, state: s?.state ?? "stopped", provider: s?.provider };
      });
    },
    agentLogs: async (name) => {
      manager();
      return o.logs(name);
    },
    tellAgent: async (name, text, from) => void (await gw.mailbox.deliver(name, text, from)),
    answerAgent: (name, id, answer) => gw.mailbox.answer(name, id, answer),

    listPolicies: () => gw.policies.set.policies.map((p) => ({ name: p.name, file: p.file, hosts: p.hosts })),
    async readPolicy(name) {
      const p = gw.policies.set.policies.find((x) => x.name === name);
      const file = p?.file ?? fileOf(name);
      return readFile(join(o.policiesDir, file), "utf8").catch(() => undefined);
    },
    async validatePolicy(name, yaml): Promise<PolicyCheckOutcome> {
      const { result } = await compileWith(name, yaml);
      if (result.ok) return { ok: true };
      const problems = result.issues.map((i) => ({ file: i.file, line: i.line, message: i.message }));
      return { ok: false, errors: formatIssues(result.issues), problems };
    },
    async writePolicy(name, yaml): Promise<PolicyWriteOutcome> {
      const { file, result } = await compileWith(name, yaml);
      if (!result.ok) return { ok: false, errors: formatIssues(result.issues) };
      const tmp = join(o.policiesDir, `.${file}.tmp`);
      await writeFile(tmp, yaml, { mode: 0o600 });
      await rename(tmp, join(o.policiesDir, file));
      const r = await gw.policies.reload();
      return r.ok ? { ok: true } : { ok: false, errors: formatIssues(r.issues) };
    },
    testPolicy: (agent, method, url) => testPolicy(gw.policies.set, agent, method, url),
    replayPolicy: (input) => gw.replayPolicy(input),
    async reloadPolicies() {
      const r = await gw.policies.reload();
      return r.ok ? { ok: true } : { ok: false, errors: formatIssues(r.issues) };
    },

    setSecret: (name, value) => gw.credentials.setSecret(name, value),
    listSecrets: () => gw.credentials.listSecrets(),
    deleteSecret: (name) => gw.credentials.deleteSecret(name),
    listAudit: (after, limit) => gw.store.listAudit(after, limit),
    verifyAudit: () => gw.store.verifyAudit(),
  };
}
