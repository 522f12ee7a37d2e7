import { lstat, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { createFakeRuntime } from "../test/fakes/fake-runtime.js";
import { createAgentManager, type GatewayPort } from "./manager.js";

function fakeGateway() {
  const sockets = new Set<string>();
  const port: GatewayPort = {
    bundlePem: "PEM",
    register: vi.fn(async () => undefined),
    listenAgentSocket: async (agent) => void sockets.add(agent),
    closeAgentSocket: async (agent) => void sockets.delete(agent),
    placeholderEnv: async () => ({ GITHUB_TOKEN: `wdn_${"a".repeat(40)}` }),
  };
  return { port, sockets };
}

async function setup(opts: { idleStopMs?: number } = {}) {
  const fake = createFakeRuntime();
  const gw = fakeGateway();
  const dir = await mkdtemp(join(tmpdir(), "wdn-mgr-"));
  const manager = createAgentManager({
    runtime: fake.runtime,
    gateway: gw.port,
    dir,
    image: "img",
    backoffMs: { base: 10, max: 40 },
    idleStopMs: opts.idleStopMs ?? 0,
  });
  return { fake, gw, manager, dir };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe("createAgentManager()", () => {
  it("starts a container whose env holds proxy settings and placeholders only", async () => {
    const { fake, gw, manager } = await setup();
    await manager.start("a1", { provider: "demo", env: { OPENAI_MODEL: "m" } });
    const spec = fake.started[0];
    expect(spec?.env).toMatchObject({
      HTTPS_PROXY: "http://127.0.0.1:3128",
      SSL_CERT_FILE: "/run/warden/ca.pem",
      GITHUB_TOKEN: `wdn_${"a".repeat(40)}`,
      WARDEN_AGENT: "a1",
      WARDEN_PROVIDER: "demo",
      OPENAI_MODEL: "m",
    });
    expect(gw.sockets.has("a1")).toBe(true);
    expect(manager.state("a1")?.state).toBe("running");
  });

  it("replaces a symlink planted at ca.pem instead of writing through it", async () => {
    const { manager, dir } = await setup();
    const victim = join(dir, "warden.db");
    await writeFile(victim, "host data");
    await mkdir(join(dir, "a1", "run"), { recursive: true });
    await symlink(victim, join(dir, "a1", "run", "ca.pem"));
    await manager.start("a1", { provider: "demo", env: {} });
    expect(await readFile(victim, "utf8")).toBe("host data");
    expect((await lstat(join(dir, "a1", "run", "ca.pem"))).isFile()).toBe(true);
    expect(await readFile(join(dir, "a1", "run", "ca.pem"), "utf8")).toBe("PEM");
    expect(await readdir(join(dir, "a1", "run"))).toEqual(["ca.pem"]);
    await manager.stopAll();
  });

  it("restarts a crashed agent with backoff and counts the restarts", async () => {
    const { fake, manager } = await setup();
    await manager.start("a1", { provider: "demo" });
    fake.crash("a1");
    await until(() => fake.started.length === 2);
    expect(manager.state("a1")).toMatchObject({ state: "running", restarts: 1 });
    fake.crash("a1");
    await until(() => fake.started.length === 3);
    expect(manager.state("a1")?.restarts).toBe(2);
  });

  it("does not restart an agent that was stopped on purpose", async () => {
    const { fake, gw, manager } = await setup();
    await manager.start("a1", { provider: "demo" });
    await manager.stop("a1");
    await new Promise((r) => setTimeout(r, 60));
    expect(fake.started).toHaveLength(1);
    expect(manager.state("a1")?.state).toBe("stopped");
    expect(gw.sockets.has("a1")).toBe(false);
  });

  it("stops an idle agent and wakes it on the next message", async () => {
    const { fake, gw, manager } = await setup({ idleStopMs: 30 });
    await manager.start("a1", { provider: "demo" });
    await until(() => manager.state("a1")?.state === "idle");
    expect(await fake.runtime.list()).toEqual([]);
    await until(() => !gw.sockets.has("a1"));
    await manager.wake("a1");
    expect(manager.state("a1")?.state).toBe("running");
    expect(fake.started).toHaveLength(2);
  });
});

describe("createAgentManager() across restarts", () => {
  it("resumes agents that were running at shutdown, not those stopped on purpose", async () => {
    const { fake, gw, manager, dir } = await setup();
    await manager.start("keep", { provider: "openai", env: { OPENAI_MODEL: "m" } });
    await manager.start("gone", { provider: "demo" });
    await manager.stop("gone");
    await manager.stopAll();
    const next = createAgentManager({
      runtime: fake.runtime,
      gateway: gw.port,
      dir,
      image: "img",
      idleStopMs: 0,
    });
    expect(await next.resume()).toEqual(["keep"]);
    expect(fake.started.at(-1)?.env).toMatchObject({ WARDEN_PROVIDER: "openai", OPENAI_MODEL: "m" });
  });
});
