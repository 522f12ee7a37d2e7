/**
 * Plans and writes the root filesystem of the offline agent image: host binaries, their `ldd`
 * closures, git's helpers, node, the CA store, minimal /etc, and the compiled runner. Planning is
 * separate from writing so the build can hash the plan and skip the copy when the image is cached.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { CA_BUNDLE, GROUP, NSS_LIBS, NSSWITCH, PASSWD, SHELLS, TOOLS } from "./etc-files.js";
import { findOnPath, imagePathFor, libraryClosure } from "./host-files.js";

/**
 * One thing to place in the image. `hashBy` says how the cache key covers a host file: "stat"
 * (path+size+mtime, cheap for a 100 MB node binary) or "content" (runner code, whose mtime changes
 * on every tsc run even when the output is identical).
 */
export type RootfsEntry =
  | { kind: "file"; dest: string; src: string; hashBy: "stat" | "content" }
  | { kind: "data"; dest: string; data: string; mode: number }
  | { kind: "symlink"; dest: string; target: string }
  | { kind: "dir"; dest: string; mode: number };

export interface RootfsOptions {
  /** Repository root; its package.json "type" and node_modules/@anthropic-ai are consulted. */
  repoRoot: string;
  /** Compiled runner directory (normally dist/agents/runner); must contain main.js. */
  runnerDir: string;
  /** Node binary to ship; defaults to the one running Warden. */
  nodePath?: string;
}

const RUNNER_DEST = "/opt/warden/runner";
const MODULES_DEST = "/opt/warden/node_modules";

/** Builds the ordered entry list; throws if a required host file is missing. */
export async function planRootfs(opts: RootfsOptions): Promise<RootfsEntry[]> {
  const plan = new Map<string, RootfsEntry>();
  // First writer wins: a library reached twice (tool + git-core) is planned once.
  const add = (e: RootfsEntry) => void (plan.has(e.dest) || plan.set(e.dest, e));

  // Mirror usr-merge (/bin -> usr/bin, …) so paths baked into scripts and ELF interpreters resolve.
  for (const top of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
    const p = `/${top}`;
    if ((await lstat(p).catch(() => undefined))?.isSymbolicLink()) {
      add({ kind: "symlink", dest: p, target: await readlink(p) });
    }
  }
  add({ kind: "dir", dest: "/tmp", mode: 0o1777 });
  add({ kind: "dir", dest: "/run/warden", mode: 0o755 });

  const missing: string[] = [];
  const hostFiles: string[] = [];
  for (const name of [...SHELLS, ...TOOLS]) {
    const found = await findOnPath(
      name,
      (SHELLS as readonly string[]).includes(name) ? "/bin:/usr/bin" : undefined,
    );
    if (found) hostFiles.push(found);
    else missing.push(name);
  }
  if (missing.length) throw new Error(`agent image: host is missing ${missing.join(", ")}`);
  for (const f of hostFiles) add({ kind: "file", dest: await imagePathFor(f), src: f, hashBy: "stat" });

  const nodePath = opts.nodePath ?? process.execPath;
  add({ kind: "file", dest: "/usr/local/bin/node", src: nodePath, hashBy: "stat" });

  const gitCore = await gitExecPath();
  for (const e of await walk(gitCore, await imagePathFor(gitCore), "stat")) add(e);
  const templates = "/usr/share/git-core/templates";
  if (existsSync(templates)) for (const e of await walk(templates, templates, "stat")) add(e);

  // The Claude SDK goes in before the library closure: its native `claude` binary is an ELF whose
  // libraries (librt, libdl, …) the closure must cover.
  for (const e of await claudeSdkEntries(opts.repoRoot)) add(e);

  // Libraries: closure of every ELF planned so far, then NSS modules (dlopened, so ldd misses them).
  const elfSources = [...plan.values()].flatMap((e) => (e.kind === "file" ? [e.src] : []));
  const libs = await libraryClosure(elfSources);
  const libDir = libs.find((l) => path.basename(l) === "libc.so.6");
  const nss = libDir
    ? NSS_LIBS.map((n) => path.join(path.dirname(libDir), n)).filter((p) => existsSync(p))
    : [];
  for (const lib of [...libs, ...nss, ...(await libraryClosure(nss))]) {
    add({ kind: "file", dest: await imagePathFor(lib), src: lib, hashBy: "stat" });
  }

  if (!existsSync(CA_BUNDLE)) throw new Error(`agent image: host has no CA store at ${CA_BUNDLE}`);
  add({ kind: "file", dest: CA_BUNDLE, src: CA_BUNDLE, hashBy: "stat" });
  // OpenSSL's compiled-in defaults on Debian point here; keep them working for curl and friends.
  add({ kind: "symlink", dest: "/usr/lib/ssl/cert.pem", target: CA_BUNDLE });
  add({ kind: "symlink", dest: "/usr/lib/ssl/certs", target: "/etc/ssl/certs" });
  add({ kind: "data", dest: "/etc/passwd", data: PASSWD, mode: 0o644 });
  add({ kind: "data", dest: "/etc/group", data: GROUP, mode: 0o644 });
  add({ kind: "data", dest: "/etc/nsswitch.conf", data: NSSWITCH, mode: 0o644 });

  if (!existsSync(path.join(opts.runnerDir, "main.js"))) {
    throw new Error(`agent image: ${opts.runnerDir}/main.js not found (run the TypeScript build first)`);
  }
  for (const e of await walk(opts.runnerDir, RUNNER_DEST, "content")) add(e);
  // The runner is compiled as the repo's module type; outside the repo Node would assume CommonJS.
  if (!existsSync(path.join(opts.runnerDir, "package.json"))) {
    const type = await readPackageType(opts.repoRoot);
    add({
      kind: "data",
      dest: "/opt/warden/package.json",
      data: `${JSON.stringify({ type })}\n`,
      mode: 0o644,
    });
  }
  return [...plan.values()];
}

/** Writes a plan under `root` (an empty directory). Host files are copied with symlinks resolved. */
export async function writeRootfs(entries: readonly RootfsEntry[], root: string): Promise<void> {
  const at = (dest: string) => path.join(root, dest);
  const order = { dir: 0, file: 1, data: 2, symlink: 3 } as const;
  for (const e of [...entries].sort((a, b) => order[a.kind] - order[b.kind])) {
    if (e.kind === "dir") {
      await mkdir(at(e.dest), { recursive: true });
      await chmod(at(e.dest), e.mode); // mkdir's mode is filtered by umask; 1777 needs chmod
      continue;
    }
    await mkdir(path.dirname(at(e.dest)), { recursive: true });
    // copyFile follows symlinks and keeps the mode bits, which is exactly "dereference" here.
    if (e.kind === "file") await copyFile(e.src, at(e.dest));
    else if (e.kind === "data") await writeFile(at(e.dest), e.data, { mode: e.mode });
    else await symlink(e.target, at(e.dest));
  }
}

/**
 * Recursively plans a host directory. Relative symlinks that stay inside it are kept as symlinks
 * (git-core has ~140 aliases of the 3.7 MB `git` binary); anything pointing outside is dereferenced.
 */
async function walk(srcRoot: string, destRoot: string, hashBy: "stat" | "content"): Promise<RootfsEntry[]> {
  const out: RootfsEntry[] = [{ kind: "dir", dest: destRoot, mode: 0o755 }];
  const visit = async (src: string, dest: string): Promise<void> => {
    for (const d of await readdir(src, { withFileTypes: true })) {
      const s = path.join(src, d.name);
      const t = path.posix.join(dest, d.name);
      if (d.isSymbolicLink()) {
        const target = await readlink(s);
        const resolved = path.resolve(src, target);
        if (!path.isAbsolute(target) && !path.relative(srcRoot, resolved).startsWith("..")) {
          out.push({ kind: "symlink", dest: t, target });
          continue;
        }
        const st = await stat(s).catch(() => undefined); // dangling links are simply skipped
        if (st?.isDirectory()) {
          out.push({ kind: "dir", dest: t, mode: 0o755 });
          await visit(resolved, t);
        } else if (st?.isFile()) out.push({ kind: "file", dest: t, src: s, hashBy });
      } else if (d.isDirectory()) {
        out.push({ kind: "dir", dest: t, mode: 0o755 });
        await visit(s, t);
      } else if (d.isFile()) out.push({ kind: "file", dest: t, src: s, hashBy });
    }
  };
  await visit(srcRoot, destRoot);
  return out;
}

/** git's helper directory (git-remote-https lives there); `git --exec-path` knows it exactly. */
function gitExecPath(): Promise<string> {
  return new Promise((resolve) => {
    execFile("git", ["--exec-path"], { encoding: "utf8" }, (err, stdout) => {
      resolve(!err && stdout.trim() ? stdout.trim() : "/usr/lib/git-core");
    });
  });
}

async function readPackageType(repoRoot: string): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as { type?: unknown };
    return pkg.type === "module" ? "module" : "commonjs";
  } catch {
    return "commonjs";
  }
}

/**
 * Optional Claude support: the whole @anthropic-ai scope (SDK plus its per-platform optional
 * packages) and any of the SDK's declared dependencies that are installed. Absent SDK → nothing.
 */
async function claudeSdkEntries(repoRoot: string): Promise<RootfsEntry[]> {
  const modules = path.join(repoRoot, "node_modules");
  const sdk = path.join(modules, "@anthropic-ai", "claude-agent-sdk");
  if (!existsSync(sdk)) return [];
  const entries = await walk(path.join(modules, "@anthropic-ai"), `${MODULES_DEST}/@anthropic-ai`, "stat");
  const pkg = JSON.parse(await readFile(path.join(sdk, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
    if (dep.startsWith("@anthropic-ai/") || !existsSync(path.join(modules, dep))) continue;
    entries.push(...(await walk(path.join(modules, dep), `${MODULES_DEST}/${dep}`, "stat")));
  }
  return entries;
}
