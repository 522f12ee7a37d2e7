/**
 * The quick start on Kubernetes: `warden start`'s wiring (runStart) with WARDEN_RUNTIME=kubernetes and
 * token identity against a real v1.20.2 cluster (test/support/kube-cluster.ts). The gateway listens on
 * the Pod bridge's host address (WARDEN_K8S_GATEWAY); the demo agent runs as a Pod whose runner presents
 * its projected `warden-gateway` token on every connection. The owner claims Warden in Telegram (grammy
 * against the fake Bot API), the agent is asked to send the report, the held request's card reaches the
 * owner, Approve is tapped, the demo service receives the mail with the real key swapped in, and the
 * agent's answer is in its outbox. Then the isolation checks of escape.test.ts run inside that same Pod,
 * and the manager's behaviour on Pods: a Pod deleted under the agent is replaced (a new uid whose token
 * works), and after Warden restarts on the same home the agent is resumed as a Pod.
 * With CI set a missing cluster fails instead of skipping.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAgentImage } from "../../agents/image/build-image.js";
import { startTestWarden } from "../bot/test-warden.js";
import { type FakeTelegram, startFakeTelegram } from "../fakes/telegram-api.js";
import { pollUntil } from "../fakes/poll-until.js";
import { requireKube } from "../support/kube-binaries.js";
import { type KubeCluster, startKubeCluster } from "../support/kube-cluster.js";
import { freePort } from "../support/kube-procs.js";
import { REPO } from "./agent-world.js";

const skip = requireKube({ kubelet: true });
const NS = "warden-qs";
const OWNER = 4242;
let cluster: KubeCluster;
let tg: FakeTelegram;
let warden: Awaited<ReturnType<typeof startTestWarden>>;
let gatewayAt = { host: "", port: 0 };
let image = "";
let home = "";

// biome-ignore lint/suspicious/noExplicitAny: JSON answers of the control API.
async function control(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const [host, port] = warden.gateway.controlAddress.split(":");
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        method,
        path,
        headers: {
          authorization: `Bearer ${warden.gateway.token}`,
          ...(data ? { "content-type": "application/json" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // logs answer plain text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Runs a shell script in the demo agent's Pod through the control API (runtime.exec underneath). */
async function sh(script: string): Promise<{ exitCode: number; output: string }> {
  const r = await control("POST", "/v1/agents/demo/exec", { cmd: ["/bin/sh", "-c", script] });
  if (r.status !== 200) throw new Error(`exec: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

describe.skipIf(skip)(`quick start on Kubernetes, token identity${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    image = (await buildAgentImage({ repoRoot: REPO, runnerDir: join(REPO, "dist", "agents", "runner") }))
      .tag;
    cluster = await startKubeCluster({ kubelet: true });
    cluster.loadImage(image);
    tg = await startFakeTelegram();
    const host = cluster.podGateway ?? "";
    gatewayAt = { host, port: await freePort(host) };
    // A home of the test's own: it must outlive the first Warden for the restart below.
    home = await mkdtemp(join(tmpdir(), "wdn-k8s-qs-"));
    warden = await startTestWarden("k8s-qs", {
      home,
      telegram: { token: tg.token, apiRoot: tg.apiRoot },
      listen: gatewayAt,
      kubernetes: {
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: NS,
        identity: "token",
        gateway: gatewayAt,
        image,
      },
    });
  }, 900_000);

  afterAll(async () => {
    await warden?.close();
    await tg?.close();
    await cluster?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  }, 180_000);

  it("card in Telegram, Approve, the mail goes out with the real key, the agent answers", async () => {
    tg.injectText({ from: { id: OWNER, name: "Olive" }, text: `/start ${warden.claimToken}` });
    await tg.waitForCall("sendMessage", (p) => String(p.chat_id) === String(OWNER), 30_000);

    const started = await control("POST", "/v1/agents", { name: "demo", provider: "demo" });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const pods = await cluster.api("GET", `/api/v1/namespaces/${NS}/pods`);
    const pod = pods.body.items.find(
      (p: { metadata: { labels?: Record<string, string> } }) =>
        p.metadata.labels?.["warden.agent"] === "demo",
    );
    expect(pod?.status?.phase).toBe("Running");
    // Token identity: the Pod was told where the gateway is, and mounts no socket from the node.
    const env = pod.spec.containers[0].env as { name: string; value: string }[];
    expect(env.find((e) => e.name === "WARDEN_K8S_GATEWAY")?.value).toBe(
      `${gatewayAt.host}:${gatewayAt.port}`,
    );
    expect(JSON.stringify(pod.spec)).not.toContain("hostPath");

    const sent = await control("POST", "/v1/agents/demo/messages", { text: "send the report to Alice" });
    expect(sent.status).toBe(202);
    const card = await tg.waitForCall(
      "sendMessage",
      (p) => String(p.chat_id) === String(OWNER) && JSON.stringify(p.reply_markup ?? {}).includes("Approve"),
      120_000,
    );
    expect(String(card.text)).toContain("send the report to Alice");
    expect(warden.demo.sent).toEqual([]);
    const approve = (
      card.reply_markup as { inline_keyboard: { text: string; callback_data: string }[][] }
    ).inline_keyboard
      .flat()
      .find((b) => b.text === "Approve");
    const messageId = tg.messageIdWithButton(OWNER, approve?.callback_data ?? "-");
    tg.injectTap({
      from: { id: OWNER, name: "Olive" },
      chatId: OWNER,
      messageId,
      data: approve?.callback_data ?? "",
    });

    const answer = await pollUntil(
      "the agent's answer",
      async () => {
        const out = (await control("GET", "/v1/agents/demo/outbox")).body as { text: string }[];
        return out.find((m) => /Sending "Report" to alice@example\.com: done/.test(m.text));
      },
      90_000,
    );
    expect(answer.text).toContain("done");
    // The demo service only answers its real key: the mail arriving proves the swap at the gateway.
    expect(warden.demo.sent.map((m) => m.to)).toEqual(["alice@example.com"]);
    const edited = await tg.waitForCall("editMessageText", (p) => p.message_id === messageId, 30_000);
    expect(JSON.stringify(edited.reply_markup ?? {})).not.toContain("Approve");
    // The audit names the agent the Pod's token was reviewed as.
    const audit = (await control("GET", "/v1/audit?after=0&limit=1000")).body as {
      entry: { type: string; agent?: string };
    }[];
    const ofDemo = audit.filter((r) => r.entry.agent === "demo").map((r) => r.entry.type);
    expect(ofDemo).toContain("approval_requested");
    expect(ofDemo).toContain("approval_used");
  }, 300_000);

  describe("isolation inside the agent Pod (the checks of escape.test.ts)", () => {
    it("has no network interface but lo and the Pod bridge's eth0, and no route beyond that /24", async () => {
      const r = await sh("ls /sys/class/net; echo ---; cat /proc/net/route");
      const [ifaces, routes] = r.output.split("---");
      expect(ifaces?.trim().split(/\s+/).sort()).toEqual(["eth0", "lo"]);
      expect(routes).not.toMatch(/^\w+\t00000000\t/m);
      expect(routes?.trim().split("\n").length).toBe(2); // the header and the one /24
    });

    it("reaches the gateway only as itself: no token, a forged one or another audience's is refused", async () => {
      const at = `${gatewayAt.host}:${gatewayAt.port}`;
      const r = await sh(
        `curl -s -o /dev/null -w '%{http_code} ' -x http://${at} http://demo.warden.local/inbox; ` +
          `curl -s -o /dev/null -w '%{http_code} ' -x http://${at} --proxy-header 'Proxy-Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln' http://demo.warden.local/inbox; ` +
          `curl -s -o /dev/null -w '%{http_code}' -x http://${at} -U demo:not-the-token http://demo.warden.local/inbox`,
      );
      expect(r.output.trim().split(" ")).toEqual(["407", "407", "407"]);
    });

    it("cannot resolve names with DNS, and its 127.0.0.1 is its own", async () => {
      const r = await sh(
        `node -e "require('dns').lookup('warden-escape-test.invalid',(e,a)=>console.log(e?'fail':'ok '+a))"; curl -s --noproxy '*' --max-time 3 http://127.0.0.1:${gatewayAt.port}/; echo "exit=$?"`,
      );
      expect(r.output).toMatch(/^fail\n/);
      expect(r.output).toMatch(/exit=[1-9]/);
    });

    it("has no capabilities, no new privileges, runs as uid 1000", async () => {
      const r = await sh("id -u; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status");
      expect(r.output).toMatch(/^1000\n/);
      for (const cap of ["CapEff", "CapPrm", "CapBnd"])
        expect(r.output).toMatch(new RegExp(`${cap}:\\s+0{16}`));
      expect(r.output).toMatch(/NoNewPrivs:\s+1/);
    });

    it("cannot write its root, /etc, the runner or the CA; can write /workspace and /tmp", async () => {
      const r = await sh(
        'for p in /escape /etc/escape /opt/warden/runner/escape.js /run/warden/escape; do touch $p 2>/dev/null; echo "$p=$?"; done; touch /workspace/ok /tmp/ok && echo wrote',
      );
      for (const p of ["/escape", "/etc/escape", "/opt/warden/runner/escape.js", "/run/warden/escape"])
        expect(r.output).toContain(`${p}=1`);
      expect(r.output).toContain("wrote");
    });

    it("its warden-gateway token is useless against the API server (401)", async () => {
      const token = (await sh("cat /var/run/secrets/warden/token")).output.trim();
      expect(token.split(".")).toHaveLength(3);
      expect((await cluster.api("GET", `/api/v1/namespaces/${NS}/pods`, undefined, token)).status).toBe(401);
    });

    it("holds no API token and no Docker socket, only the warden-gateway token", async () => {
      const r = await sh(
        "ls /var/run/secrets/kubernetes.io /var/run/docker.sock /run/docker.sock 2>&1; ls /var/run/secrets/warden",
      );
      expect(r.output.match(/No such file/g)?.length).toBe(3);
      expect(r.output).toMatch(/^token$/m);
    });

    it("finds the real key nowhere: env, files, process list or the Pod object", async () => {
      const real = (await warden.gateway.credentials.secret("DEMO_API_KEY"))?.reveal() ?? "";
      expect(real.length).toBeGreaterThan(16);
      // Split in the script so the shell's own command line does not carry it.
      const half = Math.floor(real.length / 2);
      const r = await sh(
        `A='${real.slice(0, half)}'; B='${real.slice(half)}'; env; cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr '\\0' '\\n'; grep -rl "$A$B" / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; echo end`,
      );
      expect(r.output).toContain("DEMO_API_KEY=wdn_");
      expect(r.output).toContain("end");
      expect(r.output).not.toContain(real);
      const objects = await Promise.all(
        ["pods", "configmaps", "serviceaccounts"].map((k) =>
          cluster.api("GET", `/api/v1/namespaces/${NS}/${k}`),
        ),
      );
      for (const o of objects) expect(JSON.stringify(o.body)).not.toContain(real);
      expect(await control("GET", "/v1/agents/demo/logs").then((l) => String(l.body))).not.toContain(real);
    });
  });
  /** The demo agent's Pod, as the API server has it. */
  // biome-ignore lint/suspicious/noExplicitAny: a Pod object.
  async function demoPod(): Promise<any> {
    const pods = await cluster.api("GET", `/api/v1/namespaces/${NS}/pods`);
    return pods.body.items.find(
      (p: { metadata: { labels?: Record<string, string> } }) =>
        p.metadata.labels?.["warden.agent"] === "demo",
    );
  }

  /** "check my inbox" is allowed without a card: an answer proves the Pod's token still identifies it. */
  async function inboxAnswered(): Promise<void> {
    const before = ((await control("GET", "/v1/agents/demo/outbox")).body as unknown[]).length;
    expect((await control("POST", "/v1/agents/demo/messages", { text: "check my inbox" })).status).toBe(202);
    await pollUntil(
      "the agent's inbox answer",
      async () => {
        const out = (await control("GET", "/v1/agents/demo/outbox")).body as { text: string }[];
        return out.slice(before).find((m) => /Quarterly report draft/.test(m.text));
      },
      120_000,
    );
  }

  it("a Pod deleted under the agent is replaced by the manager, and the new Pod's token works", async () => {
    const old = await demoPod();
    const del = await cluster.api(
      "DELETE",
      `/api/v1/namespaces/${NS}/pods/${old.metadata.name}?gracePeriodSeconds=0`,
    );
    expect(del.status).toBe(200);
    await pollUntil(
      "a new running demo Pod",
      async () => {
        const agents = (await control("GET", "/v1/agents")).body as {
          name: string;
          state: string;
          restarts: number;
        }[];
        const demo = agents.find((a) => a.name === "demo");
        const pod = await demoPod();
        return demo?.state === "running" && demo.restarts >= 1 && pod && pod.metadata.uid !== old.metadata.uid
          ? true
          : undefined;
      },
      120_000,
    );
    await inboxAnswered();
  }, 300_000);

  it("after warden restarts, the agent is resumed as a Pod and answers", async () => {
    await warden.close();
    warden = await startTestWarden("k8s-qs", {
      home,
      telegram: { token: tg.token, apiRoot: tg.apiRoot },
      listen: gatewayAt,
      kubernetes: {
        kubeconfigPath: cluster.kubeconfigPath,
        namespace: NS,
        identity: "token",
        gateway: gatewayAt,
        image,
      },
    });
    await pollUntil(
      "the resumed demo agent",
      async () => {
        const agents = (await control("GET", "/v1/agents")).body as { name: string; state: string }[];
        return agents.find((a) => a.name === "demo")?.state === "running" ? true : undefined;
      },
      120_000,
    );
    expect((await demoPod())?.status?.phase).toBe("Running");
    await inboxAnswered();
  }, 300_000);
});
