#!/usr/bin/env node
// `npm start` helper: agent containers need a Docker engine. When none answers, try what a fresh
// Debian machine allows (install docker.io, start dockerd) and otherwise say exactly what to do.
// Never fatal: Warden still starts without Docker (the web chat and gateway work; agents don't).
import { execSync, spawn } from "node:child_process";

const ok = (cmd) => {
  try {
    execSync(cmd, { stdio: "ignore", timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
};
const say = (m) => console.error(`warden: ${m}`);

if (!ok("docker info")) {
  const root = process.getuid?.() === 0;
  if (!ok("command -v dockerd") && root && ok("command -v apt-get")) {
    say("installing the Docker engine (apt-get install docker.io)… this takes a minute");
    ok("apt-get update -qq") && ok("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io");
  }
  if (ok("command -v dockerd") && root) {
    say("starting dockerd…");
    spawn("dockerd", [], { detached: true, stdio: "ignore" }).unref();
    for (let i = 0; i < 30 && !ok("docker info"); i++) execSync("sleep 1");
  }
  if (!ok("docker info")) {
    say("no Docker engine is running, so agents cannot start yet.");
    say(
      "  Debian/Ubuntu: sudo apt-get install docker.io && sudo systemctl start docker (or: sudo dockerd &)",
    );
    say("  then add yourself to the docker group (sudo usermod -aG docker $USER) and run npm start again.");
  }
}
