/**
 * vitest globalSetup: builds `dist/` once so the end-to-end suites can run the real CLI
 * (`node bin/warden.js …`). Type errors are reported but do not stop the run: tsc still emits,
 * and `npm test` type-checks separately before running vitest.
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: root,
    encoding: "utf8",
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    process.stderr.write(
      `global-setup: tsc -p tsconfig.build.json exited ${result.status}\n${result.stdout}${result.stderr}\n`,
    );
  }
}
