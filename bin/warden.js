#!/usr/bin/env node
// Entry point for `npx warden`: runs the compiled CLI (built by `npm install` via the prepare script).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "warden.js");
if (!existsSync(cli)) {
  console.error("warden is not built yet: run `npm install` (or `npm run build`) in the repository first.");
  process.exit(1);
}
await import(cli);
