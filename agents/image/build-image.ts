/**
 * Builds Warden's agent image without any registry: the root filesystem is assembled from this host's
 * own binaries (see rootfs.ts) and handed to `docker build` with a `FROM scratch` Dockerfile. The
 * image is tagged by a hash of its inputs, so an unchanged host + runner skips the build entirely.
 * People with a registry can use agents/Dockerfile instead; the runtime only cares about the tag.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { runDocker } from "./docker-cli.js";
import { offlineDockerfile } from "./etc-files.js";
import { planRootfs, type RootfsEntry, writeRootfs } from "./rootfs.js";

/** Repository part of every agent image tag. */
export const AGENT_IMAGE_REPO = "warden-agent";
/** The tag containers are started from; always moved to the most recent build. */
export const AGENT_IMAGE = `${AGENT_IMAGE_REPO}:latest`;

// The Dockerfile text and every planned entry are hashed, but not the copy code itself: bump this when
// writeRootfs changes how entries land on disk so existing images are not wrongly reused.
const LAYOUT_VERSION = "1";

export interface BuildAgentImageOptions {
  /** Repository root (for package.json "type" and the optional Claude SDK in node_modules). */
  repoRoot: string;
  /** Compiled runner directory, normally `<repoRoot>/dist/agents/runner`. */
  runnerDir: string;
  /** Progress lines: "collecting files (N)", "building image", docker's own output, "done in Xs". */
  onProgress?: (line: string) => void;
  /** Rebuild even when an image with the same input hash exists. */
  force?: boolean;
}

export interface BuildAgentImageResult {
  /** Content-addressed tag, e.g. `warden-agent:0123456789ab`; `AGENT_IMAGE` points at the same image. */
  tag: string;
  /** True when the build was skipped because that tag already existed. */
  cached: boolean;
}

/** Plans the image, reuses it if its input hash is already tagged, otherwise builds it via the CLI. */
export async function buildAgentImage(opts: BuildAgentImageOptions): Promise<BuildAgentImageResult> {
  const started = Date.now();
  const progress = opts.onProgress ?? (() => {});
  const done = () => progress(`done in ${((Date.now() - started) / 1000).toFixed(1)}s`);

  const entries = await planRootfs({ repoRoot: opts.repoRoot, runnerDir: opts.runnerDir });
  progress(`collecting files (${entries.filter((e) => e.kind === "file" || e.kind === "data").length})`);
  const hash = await hashPlan(entries);
  const tag = `${AGENT_IMAGE_REPO}:${hash.slice(0, 12)}`;

  if (!opts.force && (await docker(["image", "inspect", "--format", "{{.Id}}", tag])).code === 0) {
    // Keep :latest in step even if someone retagged it to an older build in between.
    const retag = await docker(["tag", tag, AGENT_IMAGE]);
    if (retag.code !== 0)
      throw new Error(`docker tag ${tag} ${AGENT_IMAGE} failed: ${retag.tail.join("\n")}`);
    progress(`cached ${tag}`);
    done();
    return { tag, cached: true };
  }

  const context = await prepareBuildContext(entries, hash);
  try {
    progress("building image");
    const args = ["build", "--tag", tag, "--tag", AGENT_IMAGE, context];
    // BuildKit (if the CLI uses it) otherwise draws a TTY UI; plain keeps one event per line.
    const result = await docker(args, { onLine: progress });
    if (result.code !== 0) {
      throw new Error(`docker build failed (exit ${result.code}):\n${result.tail.slice(-15).join("\n")}`);
    }
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  done();
  return { tag, cached: false };
}

/**
 * Writes a complete build context (Dockerfile, rootfs/, workspace/) into a fresh directory under the
 * OS temp dir and returns its path; the caller removes it. Exported for inspection and debugging.
 */
export async function prepareBuildContext(entries: readonly RootfsEntry[], hash: string): Promise<string> {
  const context = await mkdtemp(path.join(tmpdir(), "warden-agent-image-"));
  try {
    await writeRootfs(entries, path.join(context, "rootfs"));
    await mkdir(path.join(context, "workspace"));
    await writeFile(path.join(context, "Dockerfile"), offlineDockerfile(hash));
    return context;
  } catch (err) {
    await rm(context, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Input hash of a plan. Host binaries are covered by path+size+mtime (hashing ~150 MB on every start
 * would be slow and a package upgrade always changes mtime); runner files by content, because tsc
 * rewrites them with fresh mtimes on every build even when nothing changed.
 */
export async function hashPlan(entries: readonly RootfsEntry[]): Promise<string> {
  const h = createHash("sha256");
  h.update(`layout ${LAYOUT_VERSION}\n${offlineDockerfile("")}\n`);
  for (const e of [...entries].sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0))) {
    h.update(`${e.kind} ${e.dest}\n`);
    if (e.kind === "dir") h.update(`${e.mode}\n`);
    else if (e.kind === "symlink") h.update(`${e.target}\n`);
    else if (e.kind === "data") h.update(`${e.mode} ${e.data.length}\n${e.data}\n`);
    else if (e.hashBy === "content") {
      // No source path: the same runner built in another checkout yields the same image.
      h.update(
        `${createHash("sha256")
          .update(await readFile(e.src))
          .digest("hex")}\n`,
      );
    } else {
      const st = await stat(e.src);
      h.update(`${e.src} ${st.size} ${st.mtimeMs} ${st.mode}\n`);
    }
  }
  return h.digest("hex");
}

/** runDocker with a clearer error when the CLI itself is missing. */
async function docker(args: string[], opts?: Parameters<typeof runDocker>[1]) {
  try {
    return await runDocker(args, opts);
  } catch (err) {
    throw new Error(`cannot run the docker CLI (${(err as Error).message}); is Docker installed?`);
  }
}
