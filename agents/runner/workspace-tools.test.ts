import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { confinePath, createWorkspaceTools } from "./workspace-tools.js";

let root: string;
let workspace: string;
let scratch: string;

beforeEach(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "warden-ws-")));
  workspace = join(root, "workspace");
  scratch = join(root, "tmp");
  await mkdir(workspace);
  await mkdir(scratch);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const tools = () =>
  createWorkspaceTools({ workspace, extraRoots: [scratch], shellTimeoutMs: 2_000, maxOutputBytes: 64 });

describe("confinePath()", () => {
  it.each([
    // why                                          path
    ["relative traversal out of the workspace", "../../etc/passwd"],
    ["absolute path elsewhere", "/etc/passwd"],
    ["traversal hidden in the middle", "notes/../../tmp-not-allowed/x"],
    ["sibling whose name starts with the root's", "../workspace-evil/x"],
  ])("refuses %s", async (_why, path) => {
    await expect(confinePath(path, { base: workspace, roots: [workspace, scratch] })).rejects.toMatchObject({
      code: "path_outside_workspace",
    });
  });

  it.each([
    ["a relative file", "notes/a.txt"],
    ["the workspace itself", "."],
    ["an absolute path in the extra root", "SCRATCH/x.txt"],
  ])("allows %s", async (_why, path) => {
    const p = path.replace("SCRATCH", scratch);
    await expect(confinePath(p, { base: workspace, roots: [workspace, scratch] })).resolves.toMatch(root);
  });

  it("follows symlinks: a link inside the workspace pointing out is refused", async () => {
    await symlink("/etc", join(workspace, "escape"));
    await expect(confinePath("escape/passwd", { base: workspace, roots: [workspace] })).rejects.toMatchObject(
      { code: "path_outside_workspace" },
    );
  });
});

describe("createWorkspaceTools()", () => {
  it("readFile and writeFile refuse ../../etc/passwd", async () => {
    const t = tools();
    await expect(t.readFile("../../etc/passwd")).rejects.toMatchObject({ code: "path_outside_workspace" });
    await expect(t.writeFile("../../etc/passwd", "x")).rejects.toMatchObject({
      code: "path_outside_workspace",
    });
  });

  it("writes (creating parents) and reads back inside the workspace", async () => {
    const t = tools();
    await t.writeFile("reports/today.md", "# Report\n");
    expect(await readFile(join(workspace, "reports/today.md"), "utf8")).toBe("# Report\n");
    expect(await t.readFile("reports/today.md")).toBe("# Report\n");
  });

  it("readFile cuts large files", async () => {
    await writeFile(join(workspace, "big.txt"), "y".repeat(50));
    const t = createWorkspaceTools({ workspace, extraRoots: [], maxFileBytes: 10 });
    expect(await t.readFile("big.txt")).toBe(`${"y".repeat(10)}\n…[truncated at 10 bytes]`);
  });

  it("shell runs /bin/sh -c in the workspace and reports the exit code", async () => {
    const r = await tools().shell("pwd; echo oops >&2; exit 3");
    expect(r).toMatchObject({ exitCode: 3, stdout: `${workspace}\n`, stderr: "oops\n", timedOut: false });
  });

  it("shell truncates output and kills commands that run past the timeout", async () => {
    const t = createWorkspaceTools({ workspace, shellTimeoutMs: 200, maxOutputBytes: 8 });
    const loud = await t.shell("printf '%s' 0123456789abcdef");
    expect(loud).toMatchObject({ stdout: "01234567", truncated: true });
    const started = Date.now();
    const slow = await t.shell("sleep 5; echo never");
    expect(slow).toMatchObject({ timedOut: true, exitCode: null, stdout: "" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
