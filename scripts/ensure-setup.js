#!/usr/bin/env node
// Makes a fresh clone runnable: installs npm packages when they are missing and (re)builds dist/.
// Used by `npm start`, `npm test` and `npm run bench`, so each works as the first command after clone.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";

const run = (cmd) => execSync(cmd, { stdio: "inherit" });
if (!existsSync("node_modules/.package-lock.json") || !existsSync("node_modules/better-sqlite3/build")) {
  console.error("warden: installing npm packages (first run; better-sqlite3 may compile for a minute)…");
  // `npm install`, not `npm ci`: the registry here lacks some of biome's optional per-platform
  // packages, so the lock cannot list them and `npm ci` refuses; install still honours the lock.
  run("npm install --no-audit --no-fund");
}
console.error("warden: building…");
try {
  run("npx tsc -p tsconfig.build.json");
} catch (err) {
  // baileys (WhatsApp) is optional: its GPL-3.0 libsignal may be left out (--omit=optional). tsc
  // still emits everything, only WhatsApp's type checks fail, and WhatsApp stays off at runtime.
  if (existsSync("node_modules/baileys")) throw err;
  console.error("warden: built without the optional baileys package: WhatsApp is unavailable.");
}
