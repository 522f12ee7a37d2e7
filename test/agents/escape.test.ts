/**
 * Escape tests: a real agent container tries to get out without the gateway. Every attempt must
 * fail; each test names the attempt. The only way out that works is the proxy at 127.0.0.1:3128,
 * and the real secret is nowhere inside (env, files, process list).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentWorld, dockerUnavailable, startAgentWorld } from "./agent-world.js";

const REAL = `real-escape-secret-${Date.now()}`;
const unavailable = dockerUnavailable();
const seen: { url?: string; auth?: string }[] = [];
let upstream: http.Server;
let world: AgentWorld;
let hostPort = 0;

async function sh(script: string): Promise<{ exitCode: number; output: string }> {
  return world.runtime.exec("escape", ["/bin/sh", "-c", script]);
}

describe.skipIf(unavailable)(
  `agent container isolation${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      upstream = http.createServer((req, res) => {
        seen.push({ url: req.url, auth: req.headers.authorization });
        res.end("upstream-ok");
      });
      await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
      hostPort = (upstream.address() as AddressInfo).port;
      world = await startAgentWorld({
        policies: {
          up: "hosts: [up.test]\nsecrets:\n  UP_TOKEN: {}\nrules:\n  - name: all\n    action: allow\n",
        },
        resolve: { "up.test": { host: "127.0.0.1", port: hostPort } },
      });
      await world.gateway.credentials.setSecret("UP_TOKEN", REAL);
      await world.manager.start("escape", { provider: "demo" });
    }, 600_000);

    afterAll(async () => {
      await world?.close();
      upstream?.close();
    });

    it("the gateway path works: curl through the proxy reaches upstream with the real value swapped in", async () => {
      const r = await sh('curl -s --max-time 10 -H "Authorization: Bearer $UP_TOKEN" http://up.test/hello');
      expect(r.output).toContain("upstream-ok");
      expect(seen.at(-1)?.auth).toBe(`Bearer ${REAL}`);
    });

    it("HTTPS goes through the gateway: TLS to it verifies against /run/warden/ca.pem; CONNECT to an unknown host is refused", async () => {
      const r = await sh(
        "curl -s -o /dev/null -w '%{http_code} ' --max-time 10 https://up.test/x; curl -s -o /dev/null -w '%{http_connect}' --max-time 10 https://nope.test/",
      );
      // up.test's upstream speaks plain HTTP, so the intercepted request gets the gateway's 502; a TLS
      // failure towards the gateway would give 000 instead.
      expect(r.output.trim()).toBe("502 403");
    });

    it("has no network interface but loopback", async () => {
      const r = await sh("ls /sys/class/net");
      expect(r.output.trim().split(/\s+/)).toEqual(["lo"]);
    });

    it("cannot reach the host's test server on 127.0.0.1 directly (its loopback is its own)", async () => {
      const r = await sh(
        `curl -s --noproxy '*' --max-time 3 http://127.0.0.1:${hostPort}/direct; echo "exit=$?"`,
      );
      expect(r.output).not.toContain("upstream-ok");
      expect(r.output).toMatch(/exit=[1-9]/);
      expect(seen.some((s) => s.url === "/direct")).toBe(false);
    });

    it("cannot reach the gateway's TCP port directly", async () => {
      const port = world.gateway.proxyAddress.split(":").pop();
      const r = await sh(`curl -s --noproxy '*' --max-time 3 http://127.0.0.1:${port}/; echo "exit=$?"`);
      expect(r.output).toMatch(/exit=[1-9]/);
    });

    it("cannot reach the host over IPv6 loopback", async () => {
      const r = await sh(`curl -s -g --noproxy '*' --max-time 3 http://[::1]:${hostPort}/v6; echo "exit=$?"`);
      expect(r.output).toMatch(/exit=[1-9]/);
      expect(seen.some((s) => s.url === "/v6")).toBe(false);
    });

    it("cannot resolve names with DNS", async () => {
      const r = await sh(
        `node -e "require('dns').lookup('warden-escape-test.invalid',(e,a)=>console.log(e?'fail':'ok '+a))"`,
      );
      expect(r.output.trim()).toBe("fail");
    });

    it("has no capabilities (no raw sockets) and no-new-privileges is set", async () => {
      const r = await sh("grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status");
      expect(r.output).toMatch(/CapEff:\s+0{16}/);
      expect(r.output).toMatch(/CapPrm:\s+0{16}/);
      expect(r.output).toMatch(/CapBnd:\s+0{16}/);
      expect(r.output).toMatch(/NoNewPrivs:\s+1/);
    });

    it("runs as a non-root user", async () => {
      expect((await sh("id -u")).output.trim()).toBe("1000");
    });

    it("has no Docker socket", async () => {
      const r = await sh("ls /var/run/docker.sock /run/docker.sock 2>&1; echo done");
      expect(r.output).toMatch(/No such file/);
    });

    it.each([
      ["the root filesystem", "/escape"],
      ["/etc", "/etc/escape"],
      ["the runner", "/opt/warden/runner/escape.js"],
      ["the socket directory", "/run/warden/escape"],
    ])("cannot write to %s", async (_what, path) => {
      const r = await sh(`touch ${path} 2>&1; echo "exit=$?"`);
      expect(r.output).toMatch(/exit=1/);
    });

    it("can write to /workspace and /tmp (but /tmp is noexec)", async () => {
      const r = await sh(
        "touch /workspace/ok /tmp/ok && echo wrote; printf '#!/bin/sh\\necho ran' > /tmp/x.sh; chmod +x /tmp/x.sh; /tmp/x.sh; echo \"exit=$?\"",
      );
      expect(r.output).toContain("wrote");
      expect(r.output).not.toContain("ran");
    });

    it("cannot read the host's data dir or master key", async () => {
      const r = await sh(
        `ls ${world.home} 2>&1; cat ${world.home}/master.key 2>&1; ls /root 2>&1; echo done`,
      );
      expect(r.output).not.toMatch(/warden\.db|master\.key\n|[0-9a-f]{64}/);
    });

    it("finds the real secret nowhere: env, files or process list", async () => {
      // The value is split in the script so the shell's own command line does not contain it.
      const half = Math.floor(REAL.length / 2);
      const r = await sh(
        `A='${REAL.slice(0, half)}'; B='${REAL.slice(half)}'; env; cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n'; grep -rl "$A$B" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo end`,
      );
      expect(r.output).toContain("UP_TOKEN=wdn_");
      expect(r.output).not.toContain(REAL);
    });
  },
);
