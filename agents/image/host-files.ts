/**
 * Host file discovery for the offline agent image: PATH lookup, ELF detection and `ldd` closures.
 * No image can be pulled on the machines this targets, so the image is assembled from the host's own
 * binaries plus every shared library the dynamic loader would map for them.
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, open, realpath, stat } from "node:fs/promises";
import path from "node:path";

/**
 * Finds an executable the way a shell would (`which`), or returns undefined.
 * @param name bare command name, e.g. "git"
 * @param searchPath colon-separated directories; a fixed system default so what goes into the
 *   image does not depend on whoever's PATH ran the build
 */
export async function findOnPath(
  name: string,
  searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
): Promise<string | undefined> {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // Not here; keep walking PATH like `which` does.
    }
  }
  return undefined;
}

/** True when the file starts with the ELF magic; only those are worth handing to `ldd`. */
export async function isElf(file: string): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, "r");
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.toString("latin1") === "\x7fELF";
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/**
 * Parses `ldd` output into absolute library paths. Handles `name => /path (0x…)`, the bare loader
 * line `/lib64/ld-linux-x86-64.so.2 (0x…)`, and skips the kernel-provided vDSO (no file to copy).
 * Throws on `=> not found`: an image with a missing library would fail at run time with a far less
 * helpful message.
 */
export function parseLddOutput(output: string, subject: string): string[] {
  const libs: string[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const arrow = line.indexOf("=>");
    if (arrow >= 0) {
      const target = line.slice(arrow + 2).trim();
      if (target.startsWith("not found")) {
        throw new Error(`ldd: ${subject} needs ${line.slice(0, arrow).trim()}, which is not installed`);
      }
      const lib = target.split(/\s+/)[0];
      if (lib?.startsWith("/")) libs.push(lib);
    } else if (line.startsWith("/")) {
      const lib = line.split(/\s+/)[0];
      if (lib) libs.push(lib);
    }
  }
  return libs;
}

/** Shared libraries one ELF file needs (already transitive: the loader resolves the whole tree). */
export function sharedLibraries(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile("ldd", [file], { encoding: "utf8", maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      // Static binaries make ldd exit 1 with "not a dynamic executable"; they need nothing.
      if (err && /not a dynamic executable|statically linked/.test(`${stdout}${stderr}`)) return resolve([]);
      if (err) return reject(new Error(`ldd ${file} failed: ${stderr.trim() || err.message}`));
      try {
        resolve(parseLddOutput(stdout, file));
      } catch (parseErr) {
        reject(parseErr);
      }
    });
  });
}

/**
 * Union of the `ldd` closures of many files. Non-ELF inputs (scripts, templates) are ignored, and
 * files are deduplicated by real path because git-core has ~140 names for the same `git` binary.
 */
export async function libraryClosure(files: Iterable<string>): Promise<string[]> {
  const unique = new Set<string>();
  for (const f of files) unique.add(await realpath(f));
  const elves: string[] = [];
  for (const f of unique) if (await isElf(f)) elves.push(f);
  const out = new Set<string>();
  // Small batches: ldd spawns the loader per file; unbounded parallelism just thrashes.
  for (let i = 0; i < elves.length; i += 8) {
    const batch = await Promise.all(elves.slice(i, i + 8).map(sharedLibraries));
    for (const libs of batch) for (const lib of libs) out.add(lib);
  }
  return [...out].sort();
}

/**
 * Where a host file should live inside the image: its directory's real path plus its own name.
 * On usr-merged hosts `/lib/x86_64-linux-gnu/libc.so.6` becomes `/usr/lib/x86_64-linux-gnu/libc.so.6`,
 * so nothing is ever written *through* the `/lib -> usr/lib` symlink we recreate in the image. The
 * file name is kept (not resolved) because the loader looks libraries up by soname.
 */
export async function imagePathFor(hostPath: string): Promise<string> {
  return path.join(await realpath(path.dirname(hostPath)), path.basename(hostPath));
}
