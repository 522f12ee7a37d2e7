/**
 * `npm run bench`: the same GET load directly to a local upstream and through Warden's gateway
 * (plain HTTP keep-alive, HTTPS intercepted keep-alive, HTTPS with a fresh CONNECT + TLS per
 * request), and the same HTTPS keep-alive load through mitmproxy and squid (ssl-bump), installed
 * with apt-get when missing. Each scenario runs twice: as fast as BENCH_CONCURRENCY connections go
 * (throughput), then at a fixed rate (latency). Each proxied run follows the direct run it is
 * compared with, so a machine whose load drifts skews the ratios less. No assertions: it reports.
 * All traffic stays on 127.0.0.1.
 *
 * Env: BENCH_SECONDS (5, measured per run), BENCH_WARMUP (1), BENCH_CONCURRENCY (16), BENCH_RATE
 * (200 req/s; BENCH_FRESH_RATE, 50, for new-connection runs), BENCH_PEERS=0 (skip mitmproxy and
 * squid), BENCH_PROFILE=DIR (gateway runs with --cpu-prof into DIR), BENCH_KEEP=1 (keep the temp
 * dir with every process's logs), BENCH_AGENTS=0 (skip the agent container and Pod figures), BENCH_PODS=0 (skip only the Pod figure),
 * BENCH_BASELINE=DIR (another built checkout of Warden, e.g. the last release: its gateway is measured
 * in the same run right after this one's, so before/after ratios come from one run on one machine),
 * BENCH_FLOOD=0 (skip the held-request flood's memory figures). With BENCH_BASELINE, both gateways
 * also take turns in short interleaved slices (BENCH_CPU_ROUNDS, 9, of BENCH_CPU_SLICE, 1500,
 * requests) for a before/after CPU-per-request ratio that a drifting machine load does not skew.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchAgents } from "./agents.js";
import { benchPods } from "./pods.js";
import { benchApprovals } from "./approval.js";
import { type CpuComparison, compareCpu } from "./cpu-compare.js";
import { benchCardCounts } from "./card-count.js";
import { benchChatSdkRoundTrips } from "./chat-sdk-roundtrip.js";
import { benchFlood } from "./flood.js";
import { benchPlatformRoundTrips } from "./platform-roundtrip.js";
import { benchScaleOut } from "./scale-out.js";
import { type ClientSpec, createClient, percentile, runMax, runRate } from "./load.js";
import {
  MITMDUMP,
  type Peer,
  type PeerContext,
  SQUID,
  squidHasSslBump,
  startMitmproxy,
  startSquid,
  startWarden,
} from "./peers.js";
import { cpuMs, ensurePackage, rss } from "./proc.js";
import { KIND_LABEL, type Kind, printTable, printTargets, type Row } from "./report.js";
import { startUpstream, TLS_HOST, type Upstream } from "./upstream.js";

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const SECONDS = num("BENCH_SECONDS", 5);
const WARMUP = num("BENCH_WARMUP", 1);
const CONCURRENCY = Math.round(num("BENCH_CONCURRENCY", 16));
const RATE = num("BENCH_RATE", 200);
// A fresh TLS handshake costs milliseconds of CPU on each side; 200/s would saturate a 2-core box.
const FRESH_RATE = num("BENCH_FRESH_RATE", 50);
const PEERS = process.env.BENCH_PEERS !== "0";
const KEEP = process.env.BENCH_KEEP === "1";
const BASELINE = process.env.BENCH_BASELINE;
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CPU_ROUNDS = Math.round(num("BENCH_CPU_ROUNDS", 9));
const CPU_SLICE = Math.round(num("BENCH_CPU_SLICE", 1500));

const rows: Row[] = [];
const notes: string[] = [];
const running = new Set<{ stop(): Promise<void> }>();
let root = "";

function spec(kind: Kind, up: Upstream, peer?: Peer): ClientSpec {
  const tls = kind !== "http";
  const scheme = tls ? "https" : "http";
  const common = { scheme, keepAlive: kind !== "https-fresh", maxSockets: CONCURRENCY } as const;
  const port = tls ? up.httpsPort : up.httpPort;
  if (!peer) return { ...common, host: TLS_HOST, address: "127.0.0.1", port, ca: up.caPem };
  return { ...common, host: tls ? peer.tlsHost : peer.plainHost, port, proxy: peer.proxy };
}

async function measure(kind: Kind, up: Upstream, peer?: Peer): Promise<void> {
  const label = `${peer?.name ?? "direct"} ${KIND_LABEL[kind]}`;
  const rateUsed = kind === "https-fresh" ? FRESH_RATE : RATE;
  const base = { label, kind, direct: !peer, rateUsed };
  const client = createClient(spec(kind, up, peer));
  process.stderr.write(`bench: ${label}: ${CONCURRENCY} connections… `);
  try {
    await client.send(); // fail fast with a readable reason instead of a table of errors
  } catch (err) {
    process.stderr.write("failed\n");
    client.close();
    rows.push({ ...base, note: `first request failed: ${(err as Error).message}` });
    return;
  }
  const probe = peer ? () => cpuMs(peer.pid) : undefined;
  const max = await runMax(client, CONCURRENCY, WARMUP, SECONDS, probe);
  const cpuPerReq = max.probed !== undefined ? max.probed / (max.rps * SECONDS) : undefined;
  client.close();
  process.stderr.write(`${Math.round(max.rps)} req/s; at ${rateUsed} req/s… `);
  const paced = createClient(spec(kind, up, peer));
  const rate = await runRate(paced, rateUsed, WARMUP, SECONDS);
  paced.close();
  process.stderr.write(`p99 ${percentile(rate.latencies, 99).toFixed(2)} ms\n`);
  const errors = max.errors + rate.errors;
  const shed = rate.shed > 0 ? `, ${rate.shed} sends shed` : "";
  const problems = [
    errors > 0 ? `${errors} errors, first: ${max.firstError ?? rate.firstError}` : "",
    rate.shed > 0 || max.rps < rateUsed
      ? `saturated at ${rateUsed} req/s (max ${Math.round(max.rps)} req/s${shed}): its latency is mostly queueing`
      : "",
  ].filter(Boolean);
  rows.push({ ...base, max, rate, cpuPerReq, ...(problems.length ? { note: problems.join("; ") } : {}) });
}

/** Starts a peer; on failure notes why and returns undefined. */
async function startPeer(name: string, start: (ctx: PeerContext) => Promise<Peer>, up: Upstream) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  try {
    const peer = await start({
      dir,
      upstreamCaFile: up.caFile,
      httpPort: up.httpPort,
      httpsPort: up.httpsPort,
    });
    running.add(peer);
    return peer;
  } catch (err) {
    const why = (err as Error).message.split("\n").slice(0, 8).join("\n    ");
    notes.push(`${name} skipped: could not start it: ${why}`);
    console.error(`bench: ${name} did not start: ${why}`);
    return undefined;
  }
}

async function stopPeer(peer: Peer | undefined): Promise<void> {
  if (!peer) return;
  notes.push(`${peer.name} RSS after its runs: ${rss(peer.pid)}${KEEP ? `; logs: ${peer.logs}` : ""}`);
  await peer.stop();
  running.delete(peer);
}

/** Installs the peers when missing (before any measurement); returns the ones that can run. */
function preparePeers(): Map<string, (ctx: PeerContext) => Promise<Peer>> {
  const ready = new Map<string, (ctx: PeerContext) => Promise<Peer>>();
  if (!PEERS) {
    notes.push("mitmproxy and squid skipped (BENCH_PEERS=0)");
    return ready;
  }
  const mitm = ensurePackage("mitmproxy", () => existsSync(MITMDUMP));
  if (mitm) notes.push(`mitmproxy skipped: ${mitm}`);
  else ready.set("mitmproxy", startMitmproxy);
  // Debian's squid-openssl conflicts with (and would remove) a plain `squid` the user installed.
  const squid =
    existsSync(SQUID) && !squidHasSslBump()
      ? "the installed squid has no ssl-bump (built without OpenSSL); apt-get install squid-openssl replaces it"
      : ensurePackage("squid-openssl", squidHasSslBump);
  if (squid) notes.push(`squid skipped: ${squid}`);
  else ready.set("squid", startSquid);
  return ready;
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO_ROOT, "bin", "warden.js"))) throw new Error("bin/warden.js not found");
  root = mkdtempSync(join(tmpdir(), "warden-bench-"));
  const peers = preparePeers();
  console.log(
    `warden bench: ${SECONDS} s measured after ${WARMUP} s warm-up per run; throughput with ${CONCURRENCY} ` +
      `connections; latency at ${RATE} req/s (${FRESH_RATE} for new connections); node ${process.version}; ` +
      `${availableParallelism()} cores shared by load generator, proxy and upstream; all on 127.0.0.1`,
  );
  const load = loadavg()[0]!;
  if (load > 0.5)
    console.log(`note: the machine was already busy (load average ${load.toFixed(2)}): numbers are noisy`);
  const up = await startUpstream(root);
  running.add(up);
  const warden = await startPeer(
    "warden",
    (ctx) => startWarden(ctx, REPO_ROOT, process.env.BENCH_PROFILE),
    up,
  );

  const baseline = BASELINE
    ? await startPeer(
        "warden@baseline",
        (ctx) => startWarden(ctx, BASELINE, undefined, "warden@baseline"),
        up,
      )
    : undefined;
  await measure("http", up);
  if (warden) await measure("http", up, warden);
  if (baseline) await measure("http", up, baseline);
  await measure("https", up);
  if (warden) await measure("https", up, warden);
  if (baseline) await measure("https", up, baseline);
  const cpu: CpuComparison[] = [];
  if (warden && baseline) {
    for (const kind of ["http", "https"] as const) {
      process.stderr.write(`bench: ${KIND_LABEL[kind]} CPU/request, interleaved with the baseline… `);
      const opts = { rounds: CPU_ROUNDS, perSlice: CPU_SLICE, connections: CONCURRENCY };
      const c = await compareCpu(kind, up, warden, baseline, opts).catch((err: Error) => err);
      process.stderr.write(c instanceof Error ? `failed: ${c.message}\n` : `×${c.ratio.toFixed(2)}\n`);
      if (c instanceof Error) notes.push(`${KIND_LABEL[kind]} CPU comparison failed: ${c.message}`);
      else cpu.push(c);
    }
  }
  await stopPeer(baseline);
  for (const [name, start] of peers) {
    const peer = await startPeer(name, start, up);
    if (peer) await measure("https", up, peer);
    await stopPeer(peer);
  }
  await measure("https-fresh", up);
  if (warden) await measure("https-fresh", up, warden);
  await stopPeer(warden);

  console.log("");
  printTable(rows);
  console.log("");
  printTargets(rows);
  for (const c of cpu) {
    const pct = (c.ratio - 1) * 100;
    console.log(
      `before/after: warden ${KIND_LABEL[c.kind]} CPU per request ×${c.ratio.toFixed(2)} the baseline's ` +
        `(${pct >= 0 ? "+" : ""}${pct.toFixed(0)} %; ${c.current.toFixed(3)} vs ${c.baseline.toFixed(3)} ms; ` +
        `median of ${c.rounds} interleaved rounds of ${CPU_SLICE} requests) (target ≤ +10 %: ${pct <= 10 ? "met" : "NOT met"})`,
    );
  }
  for (const n of notes) console.log(n);
  console.log("");
  for (const line of await benchApprovals()) console.log(line);
  console.log("");
  for (const line of await benchChatSdkRoundTrips()) console.log(line);
  console.log("");
  for (const line of await benchPlatformRoundTrips()) console.log(line);
  console.log("");
  for (const line of await benchCardCounts()) console.log(line);
  console.log("");
  for (const line of await benchScaleOut()) console.log(line);
  if (process.env.BENCH_FLOOD !== "0") {
    console.log("");
    for (const line of await benchFlood(REPO_ROOT)) console.log(line);
    if (BASELINE) for (const line of await benchFlood(BASELINE)) console.log(`baseline ${line}`);
  }
  if (process.env.BENCH_AGENTS !== "0") {
    console.log("");
    const docker = await benchAgents(REPO_ROOT);
    for (const line of docker.lines) console.log(line);
    if (process.env.BENCH_PODS !== "0")
      for (const line of await benchPods(REPO_ROOT, docker.coldMs)) console.log(line);
  }
}

async function cleanup(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop().catch(() => undefined)));
  if (root && !KEEP) rmSync(root, { recursive: true, force: true });
}

process.on("SIGINT", () => void cleanup().finally(() => process.exit(130)));
try {
  await main();
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
