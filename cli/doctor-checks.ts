/**
 * The local checks of `warden doctor`: Node version, Docker engine and agent image, listening ports,
 * WARDEN_HOME permissions and the policies. Each returns a `Check` naming the item it looked at and,
 * when something is wrong, what to do. Nothing here is trusted to be well-formed: the home may hold
 * anything (symlinks, odd modes, broken YAML), and the Docker engine's answers are reduced to an
 * error code before they reach the output.
 */
import { constants } from "node:fs";
import { access, lstat, readdir, readFile, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { probeDocker } from "../agents/docker-runtime.js";
import { AGENT_IMAGE } from "../agents/image/build-image.js";
import { type HostPort, readPolicyDir } from "../gateway/index.js";
import { formatIssues, isPolicyFileName } from "../policies/index.js";

/** One line of the report: `ok`, `warn` (works, but worth knowing) or `fail` (exit 1). */
export interface Check {
  readonly status: "ok" | "warn" | "fail";
  /** The thing looked at: "node", "docker", "port web", "master key", "policies", "telegram", … */
  readonly item: string;
  readonly message: string;
  /** What to do about it (warn/fail). */
  readonly fix?: string;
}

/** Node satisfies package.json `engines.node` (the `>=X.Y.Z` form we publish). */
export async function checkNode(repoRoot: string, version = process.versions.node): Promise<Check> {
  let range = "";
  try {
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as {
      engines?: { node?: unknown };
    };
    range = typeof pkg.engines?.node === "string" ? pkg.engines.node : "";
  } catch {
    // Without package.json there is nothing to compare against.
  }
  const min = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!min) return { status: "warn", item: "node", message: `v${version}; cannot read the required version` };
  const want = [1, 2, 3].map((i) => Number(min[i] ?? 0));
  const have = version.split(".").map((n) => Number.parseInt(n, 10) || 0);
  const cmp = want.map((w, i) => (have[i] ?? 0) - w).find((d) => d !== 0) ?? 0;
  if (cmp >= 0) return { status: "ok", item: "node", message: `v${version} (needs ${range})` };
  return {
    status: "fail",
    item: "node",
    message: `v${version} is older than ${range}`,
    fix: `install Node ${range.replace(/^>=\s*/, "")} or newer (https://nodejs.org or your package manager)`,
  };
}

/**
 * The engine answers and the agent image exists (`warden start` builds it when missing). With agents
 * on Kubernetes (`forAgents` false) Docker only builds the image to push: no engine is a warning.
 */
export async function checkDocker(dockerHost: string | undefined, forAgents = true): Promise<Check[]> {
  const p = await probeDocker({ dockerHost, image: AGENT_IMAGE });
  if (p.engine === "unreachable" && !forAgents)
    return [
      {
        status: "warn",
        item: "docker",
        message: `no Docker engine answers at ${p.where} (${p.code}); agents run on Kubernetes`,
        fix: "Docker is only needed here for warden image build (the agent image to push)",
      },
    ];
  if (p.engine === "unreachable") {
    const fix =
      p.code === "EACCES"
        ? `let this user use ${p.where} (add it to the docker group, then log in again)`
        : p.code === "UNSUPPORTED_DOCKER_HOST"
          ? "set DOCKER_HOST to unix:///PATH or tcp://HOST:PORT, or unset it"
          : "install and start Docker (Debian: apt-get install docker.io && dockerd &), or point DOCKER_HOST at a running engine";
    return [
      {
        status: "fail",
        item: "docker",
        message: `no Docker engine answers at ${p.where} (${p.code}); agents cannot run`,
        fix,
      },
    ];
  }
  const engine: Check = { status: "ok", item: "docker", message: `engine ${p.version} at ${p.where}` };
  // On Kubernetes the Pods' image is WARDEN_AGENT_IMAGE in a registry, not this engine's.
  if (!forAgents) return [engine];
  return [
    engine,
    p.image
      ? { status: "ok", item: "agent image", message: `${AGENT_IMAGE} present` }
      : {
          status: "warn",
          item: "agent image",
          message: `${AGENT_IMAGE} not built yet`,
          fix: "warden start builds it (a few minutes the first time); or run: warden image build",
        },
  ];
}

/** Each address can be listened on now. Port 0 means "any free port" and always passes. */
export async function checkPorts(
  ports: readonly {
    readonly name: string;
    readonly at: HostPort;
    readonly flag: string;
    readonly optional?: boolean;
  }[],
): Promise<Check[]> {
  return Promise.all(
    ports.map(async ({ name, at, flag, optional }): Promise<Check> => {
      const where = `${at.host}:${at.port}`;
      const item = `port ${name}`;
      if (at.port === 0) return { status: "ok", item, message: `${at.host}: any free port` };
      const err = await tryListen(at);
      if (!err) return { status: "ok", item, message: `${where} is free` };
      const busy = err === "EADDRINUSE";
      return {
        status: optional ? "warn" : "fail",
        item,
        message: busy ? `${where} is already in use` : `cannot listen on ${where} (${err})`,
        fix: busy
          ? `stop what listens there (is warden already running?) or choose another with ${flag}`
          : `choose an address this machine has with ${flag}`,
      };
    }),
  );
}

function tryListen(at: HostPort): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "ERROR"));
    server.listen({ host: at.host, port: at.port, exclusive: true }, () =>
      server.close(() => resolve(undefined)),
    );
  });
}

/**
 * The home is not writable by others, and each key file is private (0600, not a symlink): the
 * gateway refuses group/other-readable keys too, so this says so before `warden start` does.
 */
export async function checkHome(home: string, masterKeyFromEnv: boolean): Promise<Check[]> {
  const info = await lstat(home).catch(() => undefined);
  if (!info)
    return [
      { status: "ok", item: "home", message: `${home} not created yet (warden start creates it, mode 0700)` },
    ];
  const out: Check[] = [];
  if (!info.isDirectory())
    return [
      {
        status: "fail",
        item: "home",
        message: `${home} is not a directory`,
        fix: "set WARDEN_HOME (or --home) to a directory",
      },
    ];
  // Anyone who can write the home can swap policies or keys: world-writable fails, group-writable warns.
  if ((info.mode & 0o022) !== 0)
    out.push({
      status: (info.mode & 0o002) !== 0 ? "fail" : "warn",
      item: "home",
      message: `${home} is writable by ${(info.mode & 0o002) !== 0 ? "every user" : "its group"} (mode ${mode(info.mode)})`,
      fix: `chmod 700 ${home}`,
    });
  else out.push({ status: "ok", item: "home", message: `${home} (mode ${mode(info.mode)})` });
  const keys: [string, string, boolean][] = [
    ["master key", join(home, "master.key"), !masterKeyFromEnv],
    ["CA key", join(home, "ca", "ca-key.pem"), true],
    ["control token", join(home, "control.token"), true],
  ];
  for (const [item, path, needed] of keys) out.push(await checkKeyFile(item, path, needed));
  return out;
}

async function checkKeyFile(item: string, path: string, needed: boolean): Promise<Check> {
  const info = await lstat(path).catch(() => undefined);
  if (!info)
    return needed
      ? { status: "ok", item, message: `${path} not created yet (warden start creates it, mode 0600)` }
      : { status: "ok", item, message: "from WARDEN_MASTER_KEY" };
  if (!info.isFile())
    return {
      status: "fail",
      item,
      message: `${path} is not a regular file`,
      fix: `remove ${path}; warden start creates a new one`,
    };
  if (process.platform !== "win32" && (info.mode & 0o077) !== 0)
    return {
      status: "fail",
      item,
      message: `${path} is readable by other users (mode ${mode(info.mode)})`,
      fix: `chmod 600 ${path}`,
    };
  return { status: "ok", item, message: `${path} (mode ${mode(info.mode)})` };
}

const mode = (m: number): string => `0${(m & 0o777).toString(8).padStart(3, "0")}`;

/** The policies compile with the same loader the gateway uses; every issue with file and line. */
export async function checkPolicies(dir: string): Promise<Check> {
  const exists = await lstat(dir).catch(() => undefined);
  if (!exists)
    return {
      status: "ok",
      item: "policies",
      message: `${dir} not created yet (warden start seeds the presets)`,
    };
  // The loader reads every *.yaml/*.yml: name the one it could not read instead of failing blind.
  const names = await readdir(dir).catch((e: { code?: string }) => e.code ?? "unreadable");
  if (typeof names === "string")
    return {
      status: "fail",
      item: "policies",
      message: `cannot read the policies directory ${dir} (${names})`,
      fix: "make it a directory of policy files (warden start seeds an empty one from the presets)",
    };
  for (const name of names.filter(isPolicyFileName)) {
    const path = join(dir, name);
    const err = await stat(path)
      .then((st) =>
        st.isFile() ? access(path, constants.R_OK) : Promise.reject({ code: "not a regular file" }),
      )
      .then(
        () => undefined,
        (e: { code?: string }) => e.code ?? "unreadable",
      );
    if (err)
      return {
        status: "fail",
        item: "policies",
        message: `cannot read ${path} (${err})`,
        fix: "make it a readable policy file or remove it",
      };
  }
  const r = await readPolicyDir(dir);
  if (r.ok) return { status: "ok", item: "policies", message: `${r.policies} valid in ${dir}` };
  // Issues name files relative to the directory: prefix it so the message points at the real file.
  const issues = r.issues.map((i) => (i.file === dir ? i : { ...i, file: join(dir, i.file) }));
  return {
    status: "fail",
    item: "policies",
    message: `${issues.length} problem(s):\n${formatIssues(issues)}`,
    fix: "fix the lines named above; warden start refuses to run with an invalid policy set",
  };
}
