/**
 * git clone and push over smart HTTP through the real gateway, plain (`http.proxy`, absolute form)
 * and HTTPS (CONNECT, `http.sslCAInfo` = the Warden CA). The agent's credential is its placeholder in
 * `http.extraHeader`; the forge behind the gateway accepts only the real token. The push is large
 * enough that git streams the pack chunked. Everything git prints (GIT_TRACE_CURL: every header and
 * byte it received) and everything it wrote to disk is searched for the real token.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ClientWorld,
  cleanEnv,
  haveBinary,
  type RunResult,
  run,
  startClientWorld,
} from "./client-world.js";
import { gitHttpBackend, smartHttpPaths } from "./git-http-backend.js";

const TOKEN = "ghp_REALgitTOKEN0d7e3f19a2b8c4e6";
const SCHEMES = ["http", "https"] as const;

let world: ClientWorld;
let projectRoot: string;

async function git(args: string[], cwd: string, trace = false): Promise<RunResult> {
  const env = cleanEnv(world.dir, {
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_AUTHOR_NAME: "Agent",
    GIT_AUTHOR_EMAIL: "agent@example.test",
    GIT_COMMITTER_NAME: "Agent",
    GIT_COMMITTER_EMAIL: "agent@example.test",
    ...(trace ? { GIT_TRACE_CURL: "1" } : {}),
  });
  const result = await run("git", args, { env, cwd, timeoutMs: 90_000 });
  world.expectNoSecret(result.text, `git ${args.join(" ")}`);
  expect(
    result.code,
    `${result.stderr.toString("utf8").slice(-1500)}\n--- gateway:\n${world.gw.output().slice(-3000)}`,
  ).toBe(0);
  return result;
}

/** What an agent's container would configure: proxy, CA, placeholder credential. */
function remoteConfig(): string[] {
  return [
    "-c",
    `http.proxy=${world.proxyUrl}`,
    "-c",
    "http.proxyAuthMethod=basic",
    "-c",
    `http.sslCAInfo=${world.caFile}`,
    "-c",
    `http.extraHeader=Authorization: Bearer ${world.placeholder("GIT_TOKEN")}`,
    // The smallest buffer git allows (64 KiB): bigger packs go out chunked.
    "-c",
    "http.postBuffer=65536",
  ];
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

beforeAll(async () => {
  world = await startClientWorld({
    policies: {
      forge: {
        hosts: ["git.test"],
        secrets: { GIT_TOKEN: { headers: ["authorization"] } },
        rules: [],
        default: "allow",
      },
    },
    secrets: { GIT_TOKEN: TOKEN },
    hosts: ["git.test"],
  });
  projectRoot = join(world.dir, "forge");
  const seed = join(world.dir, "seed");
  await mkdir(projectRoot);
  await mkdir(seed);
  await git(["init", "-q", "-b", "main"], seed);
  await writeFile(join(seed, "README.md"), "# seeded\n");
  await git(["add", "README.md"], seed);
  await git(["commit", "-q", "-m", "seed"], seed);
  for (const scheme of SCHEMES) {
    const bare = join(projectRoot, `repo-${scheme}.git`);
    await git(["clone", "-q", "--bare", seed, bare], world.dir);
    for (const path of smartHttpPaths(`/repo-${scheme}.git`))
      world.route(path, gitHttpBackend(projectRoot, TOKEN));
  }
}, 120_000);

afterAll(async () => {
  await world?.close();
});

describe.skipIf(!haveBinary("git"))("git over smart HTTP", () => {
  describe.each(SCHEMES)("%s://", (scheme) => {
    const url = `${scheme}://git.test/repo-${scheme}.git`;
    const work = () => join(world.dir, `clone-${scheme}`);

    it("clones with the placeholder; the forge saw only the real token", async () => {
      world.reset();
      await git([...remoteConfig(), "clone", "-q", url, work()], world.dir, true);
      expect(await readFile(join(work(), "README.md"), "utf8")).toBe("# seeded\n");
      const seen = await world.requests();
      expect(seen.map((r) => `${r.method} ${r.url.split("?")[0]}`)).toContain(
        `POST /repo-${scheme}.git/git-upload-pack`,
      );
      for (const r of seen) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
      for (const file of await filesUnder(work()))
        world.expectNoSecret(await readFile(file), `cloned file ${file}`);
    });

    it("pushes a chunked pack that lands in the forge's repository", async () => {
      world.reset();
      const blob = randomBytes(192 * 1024).toString("base64");
      await writeFile(join(work(), "data.txt"), blob);
      await git(["add", "data.txt"], work());
      await git(["commit", "-q", "-m", "add data"], work());
      const pushed = await git([...remoteConfig(), "push", "-q", "origin", "main"], work(), true);
      expect(pushed.stderr.toString("latin1")).toMatch(/Transfer-Encoding: chunked/i);
      const local = (await git(["rev-parse", "HEAD"], work())).stdout.toString().trim();
      const bare = join(projectRoot, `repo-${scheme}.git`);
      const remote = (await git(["rev-parse", "main"], bare)).stdout.toString().trim();
      expect(remote).toBe(local);
      const stored = (await git(["show", "main:data.txt"], bare)).stdout.toString();
      expect(stored).toBe(blob);
      const packs = (await world.requests()).filter((r) => r.url.endsWith("/git-receive-pack"));
      // git first probes with a 4-byte "0000" POST, then streams the pack.
      expect(packs.map((r) => r.bodyBytes > 65536)).toEqual([false, true]);
      for (const r of packs) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    });
  });

  it("the gateway's output and audit hold no real value; each upstream request has one audited allow", async () => {
    await world.expectGatewayKeptBooks();
  });
});
