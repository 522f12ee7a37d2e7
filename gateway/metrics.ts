/**
 * Request counters by outcome and a latency histogram, rendered as Prometheus text for `GET /metrics`.
 * The latency is time from the request's arrival to the response head going out (the gateway's own
 * work plus the upstream's), in seconds.
 */

const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** In-memory metrics; reset on restart like any Prometheus counter. */
export function createMetrics() {
  const decisions = new Map<string, number>();
  const counts = new Array<number>(BUCKETS.length).fill(0);
  let sum = 0;
  let total = 0;
  return {
    /** Counts one request by its final decision label (allow, deny, approved, …) and error code. */
    count(decision: string, code = ""): void {
      const key = `${decision}\u0000${code}`;
      decisions.set(key, (decisions.get(key) ?? 0) + 1);
    },
    observe(seconds: number): void {
      sum += seconds;
      total++;
      for (let i = 0; i < BUCKETS.length; i++)
        if (seconds <= (BUCKETS[i] as number)) counts[i] = (counts[i] ?? 0) + 1;
    },
    render(): string {
      const lines = [
        "# HELP warden_requests_total Requests by decision and error code.",
        "# TYPE warden_requests_total counter",
      ];
      for (const [key, n] of decisions) {
        const [decision, code] = key.split("\u0000");
        lines.push(`warden_requests_total{decision="${decision}",code="${code}"} ${n}`);
      }
      lines.push(
        "# HELP warden_request_duration_seconds Time from request arrival to response head.",
        "# TYPE warden_request_duration_seconds histogram",
      );
      BUCKETS.forEach((b, i) => {
        lines.push(`warden_request_duration_seconds_bucket{le="${b}"} ${counts[i]}`);
      });
      lines.push(
        `warden_request_duration_seconds_bucket{le="+Inf"} ${total}`,
        `warden_request_duration_seconds_sum ${sum}`,
        `warden_request_duration_seconds_count ${total}`,
      );
      return `${lines.join("\n")}\n`;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
