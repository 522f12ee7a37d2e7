/**
 * The `warden` command line and the one wiring point that reads process.env. Each subcommand parses
 * its flags, builds what it needs and hands it over explicitly.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseBatchWindow } from "../bot/batches.js";
import { createLog, startGateway } from "../gateway/index.js";
import { agentCommand, imageCommand } from "./agent-commands.js";
import { hostPort, resolveMap, UsageError } from "./args.js";
import { chatSettings } from "./chat-settings.js";
import { doctorCommand } from "./doctor.js";
import { policyCommand } from "./policy-commands.js";
import { type KubernetesSettings, runStart } from "./start.js";
import { databaseUrl, openInstallStore, setSecretCommand } from "./store-commands.js";

const HELP = `warden — egress gateway and control plane for AI agents

Usage:
  warden start [--web HOST:PORT] [--listen HOST:PORT] [--control HOST:PORT] [--replica-id ID]
                 gateway + chat bot (web chat, and the platforms below) + demo service + agent runtime;
                 owner and admins get the operator console at <web>/console (approvals, audit,
                 agents, policies with validation and replay, secret names)
  warden agent start NAME [--provider demo|openai|claude] | stop NAME | list | logs NAME | exec NAME -- CMD…
  warden image build [--force] [--tag REGISTRY/NAME:TAG]
  warden policy test NAME --replay 24h [--file FILE] [--examples N] [--json] [--control HOST:PORT]
                 replays the audited requests of the window against NAME (as on disk, or FILE):
                 which decisions would change (allow→approve, approve→deny, …); writes nothing
  warden gateway --home DIR --policies DIR --listen HOST:PORT --control HOST:PORT
                 [--upstream-ca FILE]... [--resolve HOST=IP:PORT]... [--replica-id ID]
  warden secret set NAME [--home DIR]     value on stdin
  warden audit verify [--home DIR]
  warden doctor [--home DIR] [--web HOST:PORT] [--control HOST:PORT] [--listen HOST:PORT]
                 checks Node, Docker + agent image, free ports, WARDEN_HOME permissions, policies,
                 each configured chat platform's token and, with WARDEN_RUNTIME=kubernetes, the
                 cluster (API, namespace, each RBAC permission); says what to do; exit 1 on a failure
  warden help

Environment: WARDEN_HOME (default ~/.warden), WARDEN_MASTER_KEY (else DIR/master.key).
Agents on Kubernetes (warden start): WARDEN_RUNTIME=kubernetes, WARDEN_AGENT_IMAGE (pushed from
  warden image build --tag REGISTRY/warden-agent:TAG), WARDEN_K8S_GATEWAY=HOST:PORT (where Pods reach the
  gateway; listen on it with --listen; Warden resolves a name, Pods get the IP), WARDEN_K8S_IDENTITY=token|socket (token: projected
  service-account token checked by TokenReview), WARDEN_K8S_NAMESPACE (warden-agents), KUBECONFIG or
  in-cluster. Manifests for Warden itself: deploy/kubernetes/.
Replicas: WARDEN_DATABASE_URL=postgres://… puts all state in PostgreSQL; several warden start or
  warden gateway processes on one database (same WARDEN_MASTER_KEY, same policies) act as one:
  decisions release requests held on any replica, one audit chain, shared rate limits; one elected
  leader runs Telegram/Discord/WhatsApp/Matrix/IMAP/X consumers and draws cards. --replica-id names
  the replica in logs and GET /v1/health ({ok, replica, store, leader}); default host name + pid.
Gateway limits (warden gateway): WARDEN_BODY_TIMEOUT_MS (30000: a stalled body gets 408),
  WARDEN_HEADERS_TIMEOUT_MS (20000), WARDEN_KEEPALIVE_TIMEOUT_MS (30000),
  WARDEN_MAX_AGENT_CONNECTIONS (256 per agent; beyond: 429). Policy limits: max_pending and
  max_held_bytes in _defaults.yaml, ports and per-secret headers/query in each policy file.
Batch cards (warden start): WARDEN_BATCH_WINDOW_MS (5000; 0 = one card per request): held requests
  of one agent and policy this close together share one card with "Approve all (N)" / "Deny all".
Escalation and quiet hours: a policy rule's escalate: { after: 10m, to: [...] } asks more people
  when nobody voted in time; one reminder at 80% of the timeout; /quiet 22:00-07:00 [tz=Zone] in chat
  holds a person's cards until their quiet hours end (the other approvers' cards say so).
Chat platforms for warden start (each optional):
  TELEGRAM_BOT_TOKEN [TELEGRAM_API_ROOT]
  SLACK_BOT_TOKEN + SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET [SLACK_HTTP=HOST:PORT] [SLACK_API_URL]
  DISCORD_BOT_TOKEN [DISCORD_API_URL]
  WHATSAPP=1 [WHATSAPP_WS_URL]   (pair by the QR printed here or at <web>/pair/whatsapp; WS_URL:
    another WhatsApp Web endpoint, ws:// or wss://)
  X_API_KEY + X_API_SECRET + X_ACCESS_TOKEN + X_ACCESS_SECRET [X_API_URL] [X_POLL_MS]   (X DMs, polled
    every 65 s; with WARDEN_PUBLIC_URL also the Account Activity webhook /webhooks/x; approve by
    replying "approve <code>")
  IMESSAGE_BLUEBUBBLES_URL + IMESSAGE_BLUEBUBBLES_PASSWORD (or the Warden secret)
    [IMESSAGE_WEBHOOK_TOKEN]   (iMessage through your BlueBubbles server; it calls
    /webhooks/imessage/<token> on WARDEN_WEBHOOKS, the URL printed once; tapback 👍 / 👎 on a card)
  MATRIX_HOMESERVER_URL + MATRIX_USER_ID + MATRIX_ACCESS_TOKEN (or the Warden secret)   (a bot
    account; cards are notices, react ✅ / ❌ on the card; no end-to-end encryption)
  EMAIL_IMAP_URL (imap://user@host:143, imaps://…:993) + EMAIL_SMTP_URL (smtp://user@host:587 with
    STARTTLS, smtps://…:465) + EMAIL_ADDRESS + EMAIL_PASSWORD   (cards by mail; a reply with
    "approve" / "deny" on its first line, sent to the card's own Reply-To address, decides)
Webhook platforms (Vercel Chat SDK; one listener WARDEN_WEBHOOKS=HOST:PORT, default 127.0.0.1:7430,
  paths /webhooks/<platform>; WARDEN_PUBLIC_URL is what the platforms are told to call):
  GITHUB_WEBHOOK_SECRET + GITHUB_TOKEN, or GITHUB_APP_ID + GITHUB_PRIVATE_KEY [GITHUB_INSTALLATION_ID]
    [GITHUB_API_URL] [GITHUB_BOT_USERNAME]; approve with a comment "/approve <code>" from the card
  LINEAR_API_KEY + LINEAR_WEBHOOK_SECRET [LINEAR_API_URL]; approve like GitHub
  TEAMS_APP_ID + TEAMS_APP_PASSWORD [TEAMS_APP_TENANT_ID] [TEAMS_API_URL] [TEAMS_TOKEN_URL]
    [TEAMS_OPENID_METADATA_URL]   (Microsoft Teams; needs the optional package @chat-adapter/teams;
    app manifest: bot/channels/chat-sdk/setup/teams-manifest.json)
  GOOGLE_CHAT_CREDENTIALS (service account key JSON) + GOOGLE_CHAT_PROJECT_NUMBER [GOOGLE_CHAT_API_URL]
    [GOOGLE_CHAT_CERTS_URL]   (Google Chat app as a Workspace add-on; buttons call WARDEN_PUBLIC_URL;
    configuration: bot/channels/chat-sdk/setup/gchat-app.json)
  WHATSAPP_ACCESS_TOKEN + WHATSAPP_APP_SECRET + WHATSAPP_PHONE_NUMBER_ID + WHATSAPP_VERIFY_TOKEN
    [WHATSAPP_API_URL] [WHATSAPP_CARD_TEMPLATE=name[:language]]   (WhatsApp Business Cloud API; reply
    buttons on cards; outside the 24-hour window the template goes instead and the card follows
    the person's reply; without one such a card is not sent)
  WEBEX_BOT_TOKEN + WEBEX_WEBHOOK_SECRET [WEBEX_API_URL]   (Webex bot; webhooks registered at
    WARDEN_PUBLIC_URL/webhooks/webex on start; Adaptive Card buttons)
  MESSENGER_PAGE_TOKEN + MESSENGER_APP_SECRET + MESSENGER_VERIFY_TOKEN [MESSENGER_API_URL]   (a Facebook
    page; callback /webhooks/messenger; buttons; sends only within 24 h of the person's last message)
  INSTAGRAM_ACCESS_TOKEN + INSTAGRAM_APP_SECRET + INSTAGRAM_VERIFY_TOKEN [INSTAGRAM_API_URL]
    (an Instagram professional account; callback /webhooks/instagram; as Messenger)`;

const env = process.env;
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const stderrLog = createLog((line) => process.stderr.write(line));

/** Runs `close` once on SIGTERM/SIGINT, then exits 0 (1 if closing failed). */
function onSignal(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
/**
 * WARDEN_RUNTIME=kubernetes and its WARDEN_K8S_* settings (DESIGN §8); undefined for Docker. `doctor`
 * takes them as they are, so a missing WARDEN_K8S_GATEWAY is one of its report lines, not a stop.
 */
function kubernetesSettings(forDoctor = false): KubernetesSettings | undefined {
  const kind = env.WARDEN_RUNTIME ?? "docker";
  if (kind === "docker") return undefined;
  if (kind !== "kubernetes") throw new UsageError("WARDEN_RUNTIME is docker (default) or kubernetes");
  const identity = env.WARDEN_K8S_IDENTITY ?? "token";
  if (identity !== "token" && identity !== "socket")
    throw new UsageError("WARDEN_K8S_IDENTITY is token (default) or socket");
  if (identity === "token" && !env.WARDEN_K8S_GATEWAY && !forDoctor)
    throw new UsageError(
      "WARDEN_K8S_GATEWAY=IP:PORT (where agent Pods reach this gateway) is required for token identity",
    );
  return {
    kubeconfigPath: env.KUBECONFIG,
    inCluster: !env.KUBECONFIG && !!env.KUBERNETES_SERVICE_HOST,
    namespace: env.WARDEN_K8S_NAMESPACE,
    identity,
    gateway: env.WARDEN_K8S_GATEWAY ? hostPort(env.WARDEN_K8S_GATEWAY, "WARDEN_K8S_GATEWAY") : undefined,
    image: env.WARDEN_AGENT_IMAGE,
  };
}

/** `--replica-id`: a name for logs, metrics and /v1/health; letters, digits, `.`, `_`, `-`. */
function replicaId(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value))
    throw new UsageError("--replica-id is 1-64 letters, digits, '.', '_' or '-'");
  return value;
}

const defaultHome = (): string => env.WARDEN_HOME ?? join(homedir(), ".warden");

async function gateway(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      home: { type: "string" },
      policies: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:7480" },
      control: { type: "string", default: "127.0.0.1:7421" },
      "upstream-ca": { type: "string", multiple: true, default: [] },
      resolve: { type: "string", multiple: true, default: [] },
      "replica-id": { type: "string" },
    },
  });
  const home = resolve(values.home ?? defaultHome());
  const upstreamCa = await Promise.all((values["upstream-ca"] ?? []).map((f) => readFile(f, "utf8")));
  const gw = await startGateway({
    home,
    policiesDir: resolve(values.policies ?? join(home, "policies")),
    listen: hostPort(values.listen ?? "", "--listen"),
    control: hostPort(values.control ?? "", "--control"),
    upstreamCa,
    resolve: resolveMap(values.resolve ?? []),
    masterKey: env.WARDEN_MASTER_KEY,
    databaseUrl: databaseUrl(env.WARDEN_DATABASE_URL),
    replicaId: replicaId(values["replica-id"]),
    proxyLimits: proxyLimits(),
    // The listening line must be the first stdout line; logs before it go to stderr.
    log: (event, fields) =>
      process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`),
  });
  process.stdout.write(
    `${JSON.stringify({ event: "listening", proxy: gw.proxyAddress, control: gw.controlAddress, replica: gw.replica })}\n`,
  );
  onSignal(() => gw.close());
}

async function audit(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== "verify") throw new UsageError("usage: warden audit verify [--home DIR]");
  const { values } = parseArgs({ args: rest, options: { home: { type: "string" } } });
  const store = await openInstallStore(
    resolve(values.home ?? defaultHome()),
    databaseUrl(env.WARDEN_DATABASE_URL),
  );
  const r = await store.verifyAudit();
  await store.close();
  process.stdout.write(
    `${JSON.stringify(r.ok ? r : { ok: false, entries: r.entries, seq: r.badSeq, problem: r.problem })}\n`,
  );
  process.exitCode = r.ok ? 0 : 1;
}

async function secret(argv: string[]): Promise<void> {
  const [sub, name, ...rest] = argv;
  if (sub !== "set" || !name)
    throw new UsageError("usage: warden secret set NAME [--home DIR]  (value on stdin)");
  const { values } = parseArgs({ args: rest, options: { home: { type: "string" } } });
  await setSecretCommand({
    home: resolve(values.home ?? defaultHome()),
    name,
    masterKey: env.WARDEN_MASTER_KEY,
    databaseUrl: databaseUrl(env.WARDEN_DATABASE_URL),
    stdin: process.stdin,
  });
  process.stderr.write(`secret ${name} saved\n`);
}

/** `warden start`: gateway + demo service + Docker runtime in one process. */
async function start(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: "string", default: "127.0.0.1:7480" },
      control: { type: "string", default: "127.0.0.1:7421" },
      web: { type: "string", default: "127.0.0.1:7420" },
      "replica-id": { type: "string" },
    },
  });
  const say = (line: string): void => void process.stderr.write(`warden: ${line}\n`);
  let batchWindowMs: number;
  try {
    batchWindowMs = parseBatchWindow(env.WARDEN_BATCH_WINDOW_MS);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const agentEnv: Record<string, string> = {};
  for (const k of ["OPENAI_BASE_URL", "OPENAI_MODEL", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"]) {
    const v = env[k];
    if (v) agentEnv[k] = v;
  }
  const running = await runStart({
    home: resolve(defaultHome()),
    repoRoot: REPO_ROOT,
    listen: hostPort(values.listen ?? "", "--listen"),
    control: hostPort(values.control ?? "", "--control"),
    web: hostPort(values.web ?? "", "--web"),
    ...chatSettings(env),
    masterKey: env.WARDEN_MASTER_KEY,
    databaseUrl: databaseUrl(env.WARDEN_DATABASE_URL),
    replicaId: replicaId(values["replica-id"]),
    agentEnv,
    log: stderrLog,
    say,
    batchWindowMs,
    dockerHost: env.DOCKER_HOST,
    kubernetes: kubernetesSettings(),
  });
  const gw = running.gateway;
  const listening = {
    event: "listening",
    web: running.webUrl,
    control: `http://${gw.controlAddress}`,
    claim: running.claimUrl,
    proxy: gw.proxyAddress,
  };
  process.stdout.write(`${JSON.stringify(listening)}\n`);
  say(
    running.claimUrl
      ? `open ${running.claimUrl} to claim this Warden as its owner`
      : `web chat at ${running.webUrl}`,
  );
  say(
    `control API at http://${gw.controlAddress} (token in ${join(resolve(defaultHome()), "control.token")})`,
  );
  say("then type /agent start demo in the web chat (or: npx warden agent start demo)");
  onSignal(() => running.close());
}

async function doctor(argv: string[]): Promise<void> {
  process.exitCode = await doctorCommand(argv, {
    home: defaultHome(),
    repoRoot: REPO_ROOT,
    chat: chatSettings(env),
    masterKeyFromEnv: !!env.WARDEN_MASTER_KEY,
    masterKey: env.WARDEN_MASTER_KEY,
    databaseUrl: databaseUrl(env.WARDEN_DATABASE_URL),
    dockerHost: env.DOCKER_HOST,
    kubernetes: kubernetesSettings(true),
    write: (text) => void process.stdout.write(text),
  });
}

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  doctor,
  gateway,
  audit,
  secret,
  start,
  agent: (argv) => agentCommand(argv, { home: resolve(defaultHome()) }),
  image: (argv) => imageCommand(argv, { repoRoot: REPO_ROOT }),
  policy: (argv) => policyCommand(argv, { home: resolve(defaultHome()) }),
};

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "help" || cmd === "--help" || cmd === "-h")
    return void process.stdout.write(`${HELP}\n`);
  const run = COMMANDS[cmd];
  if (!run) throw new UsageError(`unknown command "${cmd}"\n\n${HELP}`);
  await run(rest);
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`warden: ${err instanceof UsageError ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});

/** Hidden overrides of the gateway's connection limits (tests use short timeouts). */
function proxyLimits(): Record<string, number> {
  const out: Record<string, number> = {};
  const read = (key: string, field: string): void => {
    const v = env[key];
    if (v === undefined || v === "") return;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${key} must be a positive integer`);
    out[field] = n;
  };
  read("WARDEN_BODY_TIMEOUT_MS", "bodyTimeoutMs");
  read("WARDEN_HEADERS_TIMEOUT_MS", "headersTimeoutMs");
  read("WARDEN_KEEPALIVE_TIMEOUT_MS", "keepAliveTimeoutMs");
  read("WARDEN_MAX_AGENT_CONNECTIONS", "maxConnectionsPerAgent");
  return out;
}
