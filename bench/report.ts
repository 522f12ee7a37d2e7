/**
 * The benchmark's printed result: one row per scenario with its max throughput, the ratio to the
 * direct run of the same kind, latency at the fixed rate, and the latency added over direct.
 */
import { percentile, type RunResult } from "./load.js";

export type Kind = "http" | "https" | "https-fresh";

export const KIND_LABEL: Record<Kind, string> = {
  http: "HTTP keep-alive",
  https: "HTTPS keep-alive",
  "https-fresh": "HTTPS new conn/request",
};

export interface Row {
  readonly label: string;
  readonly kind: Kind;
  /** A direct run: the baseline for every other row of its kind. */
  readonly direct: boolean;
  readonly max?: RunResult;
  readonly rate?: RunResult;
  /** The fixed rate of the latency run, req/s. */
  readonly rateUsed: number;
  /** The proxy process's CPU time per request in the throughput run, ms. */
  readonly cpuPerReq?: number;
  readonly note?: string;
}

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "–");
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(2)}` : "–");
const p = (row: Row | undefined, q: number) => (row?.rate ? percentile(row.rate.latencies, q) : Number.NaN);

export function printTable(rows: readonly Row[]): void {
  const header = [
    "scenario",
    "req/s",
    "×direct",
    "cpu ms/req",
    "@rate",
    "p50 ms",
    "p99 ms",
    "+p50 ms",
    "+p99 ms",
  ];
  const lines = rows.map((r) => {
    const base = rows.find((b) => b.direct && b.kind === r.kind);
    const ratio = r.max && base?.max ? r.max.rps / base.max.rps : Number.NaN;
    const added = (q: number) => (r.direct ? Number.NaN : p(r, q) - p(base, q));
    return [
      r.label,
      r.max ? Math.round(r.max.rps).toString() : "–",
      r.direct ? "1.00" : Number.isFinite(ratio) ? ratio.toFixed(2) : "–",
      r.cpuPerReq !== undefined && Number.isFinite(r.cpuPerReq) ? r.cpuPerReq.toFixed(3) : "–",
      String(r.rateUsed),
      ms(p(r, 50)),
      ms(p(r, 99)),
      signed(added(50)),
      signed(added(99)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const l of lines) console.log(fmt(l));
  for (const r of rows) if (r.note) console.log(`  ${r.label}: ${r.note}`);
  console.log(
    "req/s: max throughput; ×direct: vs the direct run of the same kind; cpu ms/req: the proxy process's\n" +
      "CPU time per request in that run (steadier than req/s on a busy machine); p50/p99: latency at the\n" +
      "fixed @rate req/s (open loop); +p50/+p99: latency added over the direct run of the same kind",
  );
}

/** The targets, as information (this is a report, not a test). */
export function printTargets(rows: readonly Row[]): void {
  const direct = rows.find((r) => r.direct && r.kind === "https");
  const warden = rows.find((r) => r.label === `warden ${KIND_LABEL.https}`);
  if (!direct?.max || !warden?.max || !direct.rate || !warden.rate) return;
  const ratio = warden.max.rps / direct.max.rps;
  const addedP99 = p(warden, 99) - p(direct, 99);
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(
    `target: Warden HTTPS keep-alive throughput ≥ 0.5× direct: ${ratio.toFixed(2)}× (${verdict(ratio >= 0.5)})`,
  );
  console.log(
    `target: added p99 < 2 ms at ${warden.rateUsed} req/s: ${addedP99.toFixed(2)} ms (${verdict(addedP99 < 2)})`,
  );
}
