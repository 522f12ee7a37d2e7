#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm packages when they are missing and (re)builds dist/.
// Used by `npm start`, `npm test` and `npm run bench`, so each works as the first command after clone.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";

const run = (cmd) => execSync(cmd, { stdio: "inherit" });
if (!existsSync("node_modules/.package-lock.json") || !existsSync("node_modules/better-sqlite3/build")) {
  console.error("warden: installing npm packages (first run; better-sqlite3 may compile for a minute)…");
  try {
    run(existsSync("package-lock.json") ? "npm ci --no-audit --no-fund" : "npm install --no-audit --no-fund");
  } catch {
    // A lock file out of step with package.json should not stop a first run: resolve afresh.
    console.error("warden: npm ci failed; falling back to npm install");
    run("npm install --no-audit --no-fund");
  }
}
console.error("warden: building…");
run("npx tsc -p tsconfig.build.json");
