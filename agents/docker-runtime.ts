/**
 * `Runtime` on the local Docker engine: the only file that imports dockerode. Threat model: the
 * agent inside is hostile. Its container gets no network (NetworkMode none), a read-only root, a
 * small noexec tmpfs, no capabilities, no-new-privileges, a non-root user, memory/CPU/pids limits,
 * and exactly two host mounts: its socket directory and its workspace. No host env is inherited.
 */
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import type { AgentHandle, AgentSpec, Runtime } from "./runtime.js";

export interface DockerRuntimeOptions {
  /** Docker socket; default from `dockerHost`, else /var/run/docker.sock. */
  readonly socketPath?: string;
  /** DOCKER_HOST as the docker CLI reads it (`unix://PATH`, `tcp://HOST:PORT`); the CLI passes it. */
  readonly dockerHost?: string;
  /** How long to wait for the runner's ready line. Default 30 s. */
  readonly readyTimeoutMs?: number;
  /**
   * Names this Warden installation (e.g. a hash of WARDEN_HOME). Containers are named and labelled
   * with it, so two installations, or parallel test runs, never list or remove each other's agents.
   */
  readonly instance?: string;
}

export const AGENT_LABEL = "warden.agent";
export const INSTANCE_LABEL = "warden.instance";

/** The container settings for a spec; exported so tests can check every isolation flag. */
export function containerConfig(spec: AgentSpec, instance = "default"): Docker.ContainerCreateOptions {
  return {
    name: `warden-${instance}-${spec.name}`,
    Image: spec.image,
    User: "1000:1000",
    WorkingDir: "/workspace",
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: { [AGENT_LABEL]: spec.name, [INSTANCE_LABEL]: instance, "warden.provider": spec.provider },
    HostConfig: {
      NetworkMode: "none",
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=64m" },
      // The socket dir is read-only: connecting to a Unix socket needs no write access, and a writable
      // dir would let the agent plant symlinks (ca.pem → the host's warden.db) for the host to follow.
      Binds: [`${spec.socketDir}:/run/warden:ro`, `${spec.workspaceDir}:/workspace:rw`],
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Memory: spec.limits.memoryMb * 1024 * 1024,
      MemorySwap: spec.limits.memoryMb * 1024 * 1024,
      NanoCpus: Math.round(spec.limits.cpus * 1e9),
      PidsLimit: spec.limits.pids,
      // Restarts are ours (with backoff and a reason in the log), not the engine's.
      RestartPolicy: { Name: "no" },
      IpcMode: "private",
    },
  };
}

/** Creates the Docker runtime; fails on first use when the engine is unreachable. */
export function createDockerRuntime(opts: DockerRuntimeOptions = {}): Runtime {
  const docker = new Docker(engineOptions(opts.socketPath ? `unix://${opts.socketPath}` : opts.dockerHost));
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const instance = opts.instance ?? "default";
  const containerName = (name: string): string => `warden-${instance}-${name}`;
  const mine = { label: [`${INSTANCE_LABEL}=${instance}`] };

  async function remove(name: string): Promise<void> {
    try {
      await docker.getContainer(containerName(name)).remove({ force: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  function waitReady(container: Docker.Container, exited: Promise<{ code: number }>): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = "";
      const timer = setTimeout(
        () => fail(new Error(`agent not ready after ${readyTimeoutMs} ms:\n${seen.slice(-2000)}`)),
        readyTimeoutMs,
      );
      const out = new PassThrough();
      const fail = (err: Error): void => {
        clearTimeout(timer);
        out.destroy();
        reject(err);
      };
      exited.then(({ code }) =>
        fail(new Error(`agent exited with code ${code} before it was ready:\n${seen.slice(-2000)}`)),
      );
      out.on("data", (c: Buffer) => {
        seen += c.toString("utf8");
        if (seen.includes('"runner_ready"')) {
          clearTimeout(timer);
          out.destroy();
          resolve();
        }
      });
      container
        .logs({ follow: true, stdout: true, stderr: true })
        .then((stream) => {
          container.modem.demuxStream(stream, out, out);
          out.on("close", () => (stream as unknown as { destroy(): void }).destroy());
        })
        .catch(fail);
    });
  }

  return {
    async start(spec: AgentSpec): Promise<AgentHandle> {
      await remove(spec.name);
      const container = await docker.createContainer(containerConfig(spec, instance));
      await container.start();
      const exited = container.wait().then((r: { StatusCode: number }) => ({ code: r.StatusCode }));
      exited.catch(() => undefined);
      await waitReady(container, exited);
      return { name: spec.name, id: container.id, state: "running", exited };
    },
    async stop(name: string): Promise<void> {
      try {
        await docker.getContainer(containerName(name)).stop({ t: 5 });
      } catch {
        // not running: removing is enough
      }
      await remove(name);
    },
    async list() {
      const all = await docker.listContainers({ all: true, filters: mine });
      return all.map((c) => ({ name: c.Labels[AGENT_LABEL] ?? "", id: c.Id, state: c.State }));
    },
    async logs(name: string, tail = 200): Promise<string> {
      const buf = (await docker
        .getContainer(containerName(name))
        .logs({ stdout: true, stderr: true, tail })) as unknown as Buffer;
      return demux(buf);
    },
    async exec(name: string, cmd: readonly string[]) {
      const container = docker.getContainer(containerName(name));
      const ex = await container.exec({
        Cmd: [...cmd],
        AttachStdout: true,
        AttachStderr: true,
        User: "1000:1000",
      });
      const stream = await ex.start({});
      const chunks: Buffer[] = [];
      const out = new PassThrough();
      out.on("data", (c: Buffer) => chunks.push(c));
      container.modem.demuxStream(stream, out, out);
      await new Promise<void>((resolve) => stream.on("end", () => resolve()));
      const info = await ex.inspect();
      return { exitCode: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString("utf8") };
    },
    async cleanupOrphans(): Promise<number> {
      const all = await docker.listContainers({ all: true, filters: mine });
      await Promise.all(all.map((c) => docker.getContainer(c.Id).remove({ force: true })));
      return all.length;
    },
  };
}

const DEFAULT_HOST = "unix:///var/run/docker.sock";

/**
 * dockerode options for DOCKER_HOST's `unix://PATH` or `tcp://HOST:PORT` form, as the docker CLI
 * reads it (default the local socket), so `warden start` and `warden doctor` talk to the same engine.
 * Undefined for any other form (ssh://…): the runtime then leaves it to dockerode, doctor says so.
 */
function engineOptions(dockerHost: string | undefined): Docker.DockerOptions | undefined {
  const host = dockerHost || DEFAULT_HOST;
  if (host.startsWith("unix://")) return { socketPath: host.slice(7) };
  const tcp = /^tcp:\/\/([^:/]+):(\d{1,5})\/?$/.exec(host);
  return tcp ? { host: tcp[1], port: Number(tcp[2]), protocol: "http" } : undefined;
}

/** What `warden doctor` learns from the engine: whether it answers, and whether `image` is there. */
export type DockerProbe =
  | { readonly engine: "unreachable"; readonly where: string; readonly code: string }
  | { readonly engine: "ok"; readonly where: string; readonly version: string; readonly image: boolean };

/**
 * Asks the engine at `dockerHost` (DOCKER_HOST's `unix://PATH` or `tcp://HOST:PORT` form, as the
 * docker CLI reads it; default the local socket) for its version and whether `image` exists. Never
 * throws: an engine that does not answer within `timeoutMs` is `unreachable` with the error code.
 */
export async function probeDocker(o: {
  readonly dockerHost?: string;
  readonly image: string;
  readonly timeoutMs?: number;
}): Promise<DockerProbe> {
  const host = o.dockerHost || DEFAULT_HOST;
  const where = host.startsWith("unix://") ? host.slice(7) : host;
  const engine = engineOptions(host);
  if (!engine) return { engine: "unreachable", where, code: "UNSUPPORTED_DOCKER_HOST" };
  const docker = new Docker({ ...engine, timeout: o.timeoutMs ?? 5000 });
  try {
    const v = (await docker.version()) as { Version?: string };
    try {
      await docker.getImage(o.image).inspect();
      return { engine: "ok", where, version: String(v.Version ?? "?"), image: true };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      return { engine: "ok", where, version: String(v.Version ?? "?"), image: false };
    }
  } catch (err) {
    // Only the error code travels: messages may quote whatever the far end sent.
    const e = err as { code?: string; statusCode?: number };
    return {
      engine: "unreachable",
      where,
      code: e.code ?? (e.statusCode ? `HTTP_${e.statusCode}` : "ERROR"),
    };
  }
}

/** Docker's multiplexed log format: 8-byte frame headers before each chunk. */
function demux(buf: Buffer): string {
  let out = "";
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString("utf8");
    i += 8 + size;
  }
  return i === 0 ? buf.toString("utf8") : out;
}
