/**
 * `warden doctor`: checks what `warden start` needs (Node, Docker and the agent image, free ports,
 * WARDEN_HOME permissions, valid policies, each configured chat platform's token, the database, the
 * cluster with WARDEN_RUNTIME=kubernetes) and prints one
 * line per check, `ok`, `warn` or `FAIL`, each problem with the item it is about and what to do.
 * Exit code: exactly 1 if any check failed, else 0. Untrusted: everything it reads (home, policies,
 * the engine, the platforms); tokens come from the environment and are never printed.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { hostPort } from "./args.js";
import type { ChatSettings } from "./chat-channels.js";
import { type Check, checkDocker, checkHome, checkNode, checkPolicies, checkPorts } from "./doctor-checks.js";
import { checkDatabase } from "./doctor-database.js";
import { checkKubernetes } from "./doctor-kubernetes.js";
import { checkPlatforms } from "./doctor-platforms.js";
import type { KubernetesSettings } from "./start.js";

/** What cli/warden.ts read from the environment for this run. */
export interface DoctorEnv {
  /** WARDEN_HOME or its default; `--home` wins. */
  readonly home: string;
  readonly repoRoot: string;
  /** The chat platforms `warden start` would run (same settings). */
  readonly chat: ChatSettings;
  readonly masterKeyFromEnv: boolean;
  /** WARDEN_MASTER_KEY, only to open the stored WhatsApp pairing as start would; never printed. */
  readonly masterKey?: string;
  /** WARDEN_DATABASE_URL, when set (replicas on PostgreSQL). */
  readonly databaseUrl?: string;
  readonly dockerHost?: string;
  /** WARDEN_RUNTIME=kubernetes settings; undefined: agents run on Docker. */
  readonly kubernetes?: KubernetesSettings;
  readonly write: (text: string) => void;
}

export const DOCTOR_USAGE =
  "usage: warden doctor [--home DIR] [--web HOST:PORT] [--control HOST:PORT] [--listen HOST:PORT]";

/** Parses the flags `warden start` takes (so the same ports are checked), runs every check, prints. */
export async function doctorCommand(argv: string[], env: DoctorEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      home: { type: "string" },
      web: { type: "string", default: "127.0.0.1:7420" },
      control: { type: "string", default: "127.0.0.1:7421" },
      listen: { type: "string", default: "127.0.0.1:7480" },
    },
  });
  const home = resolve(values.home ?? env.home);
  const ports = [
    { name: "web", at: hostPort(values.web ?? "", "--web"), flag: "--web" },
    { name: "control", at: hostPort(values.control ?? "", "--control"), flag: "--control" },
    { name: "proxy", at: hostPort(values.listen ?? "", "--listen"), flag: "--listen" },
    {
      name: "webhooks",
      at: env.chat.chatSdk?.webhooks ?? { host: "127.0.0.1", port: 7430 },
      flag: "WARDEN_WEBHOOKS",
      // The listener starts only with a webhook platform configured; otherwise a busy port only warns.
      optional: !webhookPlatformConfigured(env.chat),
    },
    ...(env.chat.slack?.http ? [{ name: "slack http", at: env.chat.slack.http, flag: "SLACK_HTTP" }] : []),
  ];
  env.write(`warden doctor: home ${home}\n`);
  // Independent checks run together; the report keeps this order.
  const groups = await Promise.all([
    guard(
      "node",
      checkNode(env.repoRoot).then((c) => [c]),
    ),
    guard("docker", checkDocker(env.dockerHost, !env.kubernetes)),
    guard("ports", checkPorts(ports)),
    guard("home", checkHome(home, env.masterKeyFromEnv)),
    guard(
      "policies",
      checkPolicies(join(home, "policies")).then((c) => [c]),
    ),
    guard("chat", checkPlatforms(env.chat, { home, databaseUrl: env.databaseUrl, masterKey: env.masterKey })),
    guard("database", checkDatabase(env.databaseUrl, env.masterKeyFromEnv)),
    guard("kubernetes", checkKubernetes(env.kubernetes)),
  ]);
  const checks = groups.flat();
  for (const c of checks) env.write(formatCheck(c));
  const failed = checks.filter((c) => c.status === "fail").length;
  const warned = checks.filter((c) => c.status === "warn").length;
  env.write(
    failed > 0
      ? `${failed} problem(s) to fix before warden start\n`
      : `all checks passed${warned > 0 ? ` (${warned} warning(s))` : ""}\n`,
  );
  return failed > 0 ? 1 : 0;
}

/** Any Chat SDK platform set (every key of `chatSdk` but the listener's own settings is one). */
function webhookPlatformConfigured(chat: ChatSettings): boolean {
  const { webhooks: _w, publicUrl: _p, partial: _q, ...platforms } = chat.chatSdk ?? { webhooks: undefined };
  return Object.values(platforms).some((v) => v !== undefined);
}

/** A check that throws (an unreadable file, a directory named like a policy) is a failure, not a crash. */
async function guard(item: string, checks: Promise<Check[]>): Promise<Check[]> {
  try {
    return await checks;
  } catch (err) {
    // The code only: a message could quote a URL or header that holds a token.
    const e = err as { code?: unknown; name?: unknown };
    const why = typeof e.code === "string" ? e.code : String(e.name ?? "Error");
    return [
      { status: "fail", item, message: `the check itself failed (${why})`, fix: `look at ${item} by hand` },
    ];
  }
}

const LABEL = { ok: "ok  ", warn: "warn", fail: "FAIL" } as const;

/** `FAIL  master key: /h/master.key is readable … → chmod 600 /h/master.key`; continuation lines indented. */
export function formatCheck(c: Check): string {
  const text = `${c.item}: ${c.message}${c.fix ? `\n  → ${c.fix}` : ""}`;
  // File names and policy messages come from the home: no terminal control sequences get through.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to match control characters.
  const safe = text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, "?");
  return `${LABEL[c.status]}  ${safe.replace(/\n/g, "\n      ")}\n`;
}
