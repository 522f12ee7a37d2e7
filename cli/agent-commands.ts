/**
 * `warden agent …` talks to the running instance through the control API (token from
 * WARDEN_HOME/control.token); `warden image build` builds the agent image with progress.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildAgentImage } from "../agents/image/build-image.js";
import { runDocker } from "../agents/image/docker-cli.js";
import { UsageError } from "./args.js";

const USAGE = `usage: warden agent start NAME [--provider demo|openai|claude]
       warden agent stop NAME | list | logs NAME | exec NAME -- CMD…
options: --control HOST:PORT (default 127.0.0.1:7421)`;

/** One control API call with the token from `home`; a refusal becomes a UsageError with its message. */
export async function control(home: string, addr: string, method: string, path: string, body?: unknown) {
  let token: string;
  try {
    token = (await readFile(join(home, "control.token"), "utf8")).trim();
  } catch {
    throw new UsageError(
      `no control token in ${home}: is \`warden start\` running with WARDEN_HOME=${home}?`,
    );
  }
  let res: Response;
  try {
    res = await fetch(`http://${addr}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new UsageError(`cannot reach the control API at ${addr}: start it with \`npm start\``);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not JSON: show as is
    }
    throw new UsageError(`${method} ${path} failed (${res.status}): ${message}`);
  }
  return text;
}

export async function agentCommand(argv: string[], o: { home: string }): Promise<void> {
  const dash = argv.indexOf("--");
  const { values, positionals } = parseArgs({
    args: dash >= 0 ? argv.slice(0, dash) : argv,
    allowPositionals: true,
    options: { provider: { type: "string" }, control: { type: "string", default: "127.0.0.1:7421" } },
  });
  const [sub, name] = positionals;
  const call = (method: string, path: string, body?: unknown) =>
    control(o.home, values.control ?? "", method, path, body);
  const out = (s: string): void => void process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
  if (sub === "list") {
    const agents = JSON.parse(await call("GET", "/v1/agents")) as {
      name: string;
      state?: string;
      status?: { state: string };
    }[];
    if (agents.length === 0) return out("no agents");
    for (const a of agents) out(`${a.name}\t${a.state ?? "stopped"}\t${a.status?.state ?? ""}`);
    return;
  }
  if (!name) throw new UsageError(USAGE);
  if (sub === "start") {
    process.stderr.write(`starting ${name} (provider ${values.provider ?? "demo"})…\n`);
    const r = JSON.parse(await call("POST", "/v1/agents", { name, provider: values.provider ?? "demo" })) as {
      state?: string;
    };
    return out(`${name} ${r.state ?? "registered"}`);
  }
  if (sub === "stop") {
    await call("DELETE", `/v1/agents/${encodeURIComponent(name)}`);
    return out(`${name} stopped`);
  }
  if (sub === "logs") return out(await call("GET", `/v1/agents/${encodeURIComponent(name)}/logs`));
  if (sub === "exec") {
    const cmd = dash >= 0 ? argv.slice(dash + 1) : [];
    if (cmd.length === 0) throw new UsageError(USAGE);
    const r = JSON.parse(await call("POST", `/v1/agents/${encodeURIComponent(name)}/exec`, { cmd })) as {
      exitCode: number;
      output: string;
    };
    process.stdout.write(r.output);
    process.exitCode = r.exitCode;
    return;
  }
  throw new UsageError(USAGE);
}

export async function imageCommand(argv: string[], o: { repoRoot: string }): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { force: { type: "boolean" }, tag: { type: "string" } },
  });
  if (positionals[0] !== "build")
    throw new UsageError("usage: warden image build [--force] [--tag REGISTRY/NAME:TAG]");
  // For a cluster: the same offline image under a registry name, to `docker push` from here.
  if (values.tag !== undefined && !/^[a-z0-9][a-z0-9._/:@-]{0,254}$/.test(values.tag))
    throw new UsageError("--tag is an image reference like registry.example.com/warden-agent:1");
  const r = await buildAgentImage({
    repoRoot: o.repoRoot,
    runnerDir: join(o.repoRoot, "dist", "agents", "runner"),
    force: values.force,
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  if (values.tag) {
    const t = await runDocker(["tag", r.tag, values.tag]);
    if (t.code !== 0) throw new Error(`docker tag ${r.tag} ${values.tag} failed: ${t.tail.join("\n")}`);
    process.stdout.write(`${values.tag}\n`);
    return;
  }
  process.stdout.write(`${r.tag}${r.cached ? " (cached)" : ""}\n`);
}
