/**
 * `warden start`: the gateway, the chat bot (web chat always; Telegram when its token is set), the
 * demo service and the Docker runtime in one process. When no Docker engine answers, everything else
 * still runs and the reason is printed with what to do.
 */
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { startDemoService } from "../agents/demo-service.js";
import { createDockerRuntime } from "../agents/docker-runtime.js";
import { createKubernetesRuntime } from "../agents/kubernetes/kubernetes-runtime.js";
import { createTokenReviewer } from "../agents/kubernetes/token-reviewer.js";
import { gatewayPort } from "../agents/gateway-port.js";
import { buildAgentImage } from "../agents/image/build-image.js";
import { type AgentManager, createAgentManager } from "../agents/manager.js";
import type { Provider } from "../agents/runtime.js";
import { createWebChannel, openWebChatState } from "../bot/channels/web/index.js";
import type { SentRef } from "../bot/channel.js";
import {
  type Channel,
  type ControlPort,
  createBot,
  openBotStore,
  openPostgresBotStore,
  redeemToken,
} from "../bot/index.js";
import {
  type AgentHooks,
  type HostPort,
  type Log,
  PLATFORM_SECRETS,
  revealPlatformSecret,
  startGateway,
} from "../gateway/index.js";
import type { Secret } from "../gateway/secret.js";
import { loadMasterKey, Vault } from "../gateway/vault.js";
import { createTokenIdentity } from "../gateway/token-review.js";
import { createBotControl } from "./bot-control.js";
import { type ChatSettings, chatChannels } from "./chat-channels.js";
import { leaderOnly, replicaApprovals, SINGLE_CONSUMER } from "./replica-chat.js";
import { seedPolicies } from "./store-commands.js";

export interface StartOptions extends ChatSettings {
  readonly home: string;
  readonly repoRoot: string;
  readonly listen: HostPort;
  readonly control: HostPort;
  /** Where the built-in web chat listens. */
  readonly web: HostPort;
  readonly masterKey?: string;
  /** WARDEN_DATABASE_URL: state in PostgreSQL, shared with other replicas. */
  readonly databaseUrl?: string;
  /** `--replica-id`; default host name + pid. */
  readonly replicaId?: string;
  /** Non-secret provider settings passed to agents (OPENAI_BASE_URL, OPENAI_MODEL, …). */
  readonly agentEnv: Record<string, string>;
  readonly log: Log;
  readonly say: (line: string) => void;
  /** Held requests of one agent and policy this close together share one card (bot/batches.ts). */
  readonly batchWindowMs?: number;
  /** DOCKER_HOST, so agents run on the engine `warden doctor` checked. */
  readonly dockerHost?: string;
  /** WARDEN_RUNTIME=kubernetes: agents as Pods (agents/kubernetes/) instead of Docker. */
  readonly kubernetes?: KubernetesSettings;
}

/** WARDEN_RUNTIME=kubernetes settings (cli/warden.ts reads them from the environment). */
export interface KubernetesSettings {
  readonly kubeconfigPath?: string;
  readonly inCluster?: boolean;
  readonly namespace?: string;
  readonly identity?: "token" | "socket";
  readonly gateway?: HostPort;
  readonly image?: string;
}

const PROVIDERS: readonly Provider[] = ["demo", "openai", "claude"];
/** The approver id of whoever holds the control token, as `role:owner`. */
export const LOCAL_OWNER = "local:owner";

export async function runStart(o: StartOptions) {
  const policies = join(o.home, "policies");
  const seeded = await seedPolicies(policies, o.repoRoot);
  if (seeded > 0) o.say(`seeded ${seeded} preset policies into ${policies}`);

  const demoKey = randomBytes(16).toString("hex");
  const demo = await startDemoService({ apiKey: demoKey });
  let manager: AgentManager | undefined;
  let noRuntime = "agent containers are not available";
  const hooks: AgentHooks = {
    async started(name, provider) {
      if (!manager) throw new Error(noRuntime);
      // Replicated, agents (and their restart and idle loop) are the leader's: one manager for all.
      if (o.databaseUrl && !gateway.leadership.isLeader())
        throw new Error(`agents are run by the leader replica; this is ${gateway.replica}, not the leader`);
      const p = (provider ?? "demo") as Provider;
      if (!PROVIDERS.includes(p)) throw new Error(`provider must be one of ${PROVIDERS.join(", ")}`);
      return { ...(await manager.start(name, { provider: p, env: o.agentEnv })) };
    },
    stopped: async (name) => void (await manager?.stop(name)),
    describe: async (name) => ({ ...(manager?.state(name) ?? { state: "stopped" }) }),
    exec: (name, cmd) => (manager ? runtime.exec(name, cmd) : Promise.reject(new Error(noRuntime))),
    logs: (name) => (manager ? runtime.logs(name) : Promise.reject(new Error(noRuntime))),
  };
  // People, roles, links and cards are shared by replicas like the rest of the state.
  const botStore = o.databaseUrl
    ? await openPostgresBotStore({ url: o.databaseUrl, log: o.log })
    : openBotStore(join(o.home, "warden.db"));
  const web = createWebChannel({
    host: o.web.host,
    port: o.web.port,
    // Sessions and history in the bot store, shared by replicas (older JSON files move in once).
    state: await openWebChatState(botStore, o.home, o.log),
    // Only the owner sees the WhatsApp pairing code: scanning it links a phone to this Warden.
    pairing: {
      svg: () => chat?.pairingSvg(),
      mayView: async (id) => bot.roles.hasRole(`web:${id}`, "owner"),
    },
    // A claim or invitation link burns its token and signs this browser in as a new web identity.
    verifyToken: async (token) => {
      const userId = randomBytes(8).toString("hex");
      const out = await redeemToken(botStore, token, `web:${userId}`, "Web user");
      if (!out.ok) return undefined;
      await botStore.rememberPrivateChat(`web:${userId}`, web.privateChat(userId));
      return { userId, name: out.person.name };
    },
    log: (event, fields) => o.log(event, fields),
    // The full-request page every card links to: shown to, and decided by, web identities the
    // chat approver accepts (the same test a tap on a card passes).
    approvals: {
      load: (userId, id) => bot.approver.fullRequest(`web:${userId}`, id),
      decide: (userId, id, action) => bot.approver.decideFromPage(`web:${userId}`, id, action),
    },
    // The operator console at `<web>/console`: the owner and admins, over the bot's ControlPort.
    console: {
      mayUse: async (id) => bot.roles.hasRole(`web:${id}`, "admin"),
      control: () => {
        if (!control) throw new Error("warden is still starting");
        return control;
      },
    },
  });
  let platformSecret: ((name: string) => string | undefined) | undefined;
  const liveCards = new Set<string>();
  const chat = await chatChannels(o, {
    home: o.home,
    log: o.log,
    say: o.say,
    webUrl: () => web.url,
    // Cards sent before this start (a restart, or another replica's leadership) that still decide
    // something: those of waiting approvals, loaded once the gateway is up. Channels remember the
    // cards they send themselves; a gesture on a decided card decides nothing either way.
    isCard: (ref) => liveCards.has(cardKey(ref)),
    roleOf: async (identity) => (await botStore.personOf(identity))?.role,
    state: botStore,
    // WhatsApp Web's credentials, sealed with the vault's key (read once the gateway has loaded it).
    whatsappSealer: async () => {
      const vault = Vault.fromKey(await loadMasterKey({ envValue: o.masterKey, home: o.home }));
      return {
        seal: (b) => vault.sealBytes(b, "whatsapp-auth"),
        open: (b) => vault.openBytes(b, "whatsapp-auth"),
      };
    },
    // Read when a channel starts (after the gateway opened the vault below), never earlier.
    secret: (name) => platformSecret?.(name),
  });
  // Replicas on PostgreSQL: single-consumer connections run on the leader only (cli/replica-chat.ts).
  const replicated = o.databaseUrl !== undefined;
  const lead = () => gateway.leadership;
  const channels: Channel[] = [
    web,
    ...chat.channels.map((c) =>
      replicated && SINGLE_CONSUMER.has(c.platform) ? leaderOnly(c, lead, o.log) : c,
    ),
  ];
  let control: ControlPort | undefined;
  const bot = createBot({
    channels,
    store: botStore,
    // The gateway needs the bot (as its Approver) before the bot's ControlPort can exist.
    control: () => {
      if (!control) throw new Error("warden is still starting");
      return control;
    },
    log: o.log,
    // Cards link to `<web>/approvals/<id>` (read per card: the port is final only after listen).
    webUrl: () => web.url,
    batchWindowMs: o.batchWindowMs,
  });
  // The agent runtime: Docker here, or Pods on a cluster. Built before the gateway, which checks
  // Pods' tokens through it (TokenReview, then the Pod's agent).
  const instance = createHash("sha256").update(o.home).digest("hex").slice(0, 8);
  const k8s = o.kubernetes;
  const kube = k8s ? createKubernetesRuntime({ ...k8s, instance }) : undefined;
  const runtime = kube ?? createDockerRuntime({ dockerHost: o.dockerHost, instance });
  const tokenIdentity =
    kube && k8s?.identity !== "socket"
      ? createTokenIdentity({
          review: createTokenReviewer(k8s ?? {}),
          namespace: k8s?.namespace,
          agentOfPod: (name, uid) => kube.agentOfPod(name, uid),
        })
      : undefined;
  const relay = replicated
    ? replicaApprovals({
        gateway: () => gateway,
        chat: bot.approver,
        hasCards: async (id) => (await botStore.cardRefs(id)).length > 0,
        log: o.log,
      })
    : undefined;
  const gateway = await startGateway({
    home: o.home,
    policiesDir: policies,
    listen: o.listen,
    control: o.control,
    // The demo service also plays the family service of `/setup family`.
    resolve: new Map([
      ["demo.warden.local", { host: "127.0.0.1", port: demo.port }],
      ["family.warden.local", { host: "127.0.0.1", port: demo.port }],
    ]),
    masterKey: o.masterKey,
    databaseUrl: o.databaseUrl,
    replicaId: o.replicaId,
    hooks,
    log: o.log,
    // Replicated, the leader draws every card from the store's announcements; else the bot directly.
    approver: relay?.approver ?? bot.approver,
    tokenIdentity,
    deferResume: true,
    // People and roles come from the bot; the holder of the control token also counts as owner.
    roles: { hasRole: (id, role) => (role === "owner" && id === LOCAL_OWNER) || bot.roles.hasRole(id, role) },
    // Activity keeps an agent's container up; a message for an idle-stopped agent wakes it.
    mailboxEvents: {
      delivered: (agent) => void manager?.wake(agent),
      outbox: (m) => {
        manager?.touch(m.agent);
        bot.mailboxEvents.outbox?.(m);
      },
      status: (agent, st) => {
        manager?.touch(agent);
        bot.mailboxEvents.status?.(agent, st);
      },
      ask: (q) => bot.mailboxEvents.ask?.(q),
    },
  });
  // Platform credentials kept as Warden secrets are read once, now the vault is open.
  const platformSecrets = new Map<string, Secret>();
  for (const n of PLATFORM_SECRETS) {
    const s = await gateway.credentials.secret(n);
    if (s) platformSecrets.set(n, s);
  }
  platformSecret = (name) => revealPlatformSecret(name, (n) => platformSecrets.get(n));
  // Read the rows as stored: listing through the approvals engine would expire overdue ones now,
  // before the bot can update their cards (that is resume()'s job, below).
  for (const state of ["pending", "approved"] as const)
    for (const a of await gateway.store.listApprovals(state))
      for (const c of await botStore.cardRefs(a.id)) liveCards.add(cardKey(c.ref));
  // The demo key is a real secret for the demo service: agents only ever see its placeholder.
  await gateway.credentials.setSecret("DEMO_API_KEY", demoKey);

  try {
    const orphans = await runtime.cleanupOrphans();
    if (orphans > 0) o.say(`removed ${orphans} agent sandbox(es) left by a previous run`);
    let image: string;
    if (k8s) {
      // A cluster pulls from a registry: `warden image build --tag REGISTRY/warden-agent:TAG`, push.
      if (!k8s.image) throw new Error("WARDEN_AGENT_IMAGE is required with WARDEN_RUNTIME=kubernetes");
      image = k8s.image;
    } else {
      o.say("building the agent image (cached after the first time)…");
      image = (
        await buildAgentImage({
          repoRoot: o.repoRoot,
          runnerDir: join(o.repoRoot, "dist", "agents", "runner"),
          onProgress: (line) => o.say(`  ${line}`),
        })
      ).tag;
    }
    manager = createAgentManager({
      runtime,
      gateway: await gatewayPort(gateway),
      dir: join(o.home, "agents"),
      image,
      log: o.log,
    });
    const m = manager;
    const resume = async (): Promise<void> => {
      const resumed = await m.resume();
      if (resumed.length > 0) o.say(`restarted agents that were running before: ${resumed.join(", ")}`);
    };
    if (gateway.leadership.isLeader()) await resume();
    // A replica that becomes the leader takes over the agents; one that stops leading stops its own.
    gateway.leadership.onChange((leader) => {
      const next = leader ? resume() : m.stopAll();
      void next.catch((err: unknown) => o.log("agents_handover_failed", { error: (err as Error).name }));
    });
  } catch (err) {
    noRuntime = `agent containers are not available: ${(err as Error).message.split("\n")[0]}`;
    o.say(
      k8s
        ? `${noRuntime}\n  Run warden doctor with the same WARDEN_RUNTIME/WARDEN_K8S_* settings: it names what is missing.`
        : `${noRuntime}\n  Install and start Docker (Debian: apt-get install docker.io && dockerd &), then restart warden.`,
    );
  }

  control = createBotControl({
    gateway,
    policiesDir: policies,
    manager: () => manager,
    agentEnv: o.agentEnv,
    noRuntime: () => noRuntime,
    logs: (name) => runtime.logs(name),
  });
  for (const f of await bot.start()) o.say(`${f.platform} did not start: ${f.error}`);
  relay?.start();
  // Now that the bot can reach people: expire what timed out while down (cards updated), re-arm the rest.
  await gateway.approvals.resume();
  // Then the sends that waited in memory (quiet hours, WhatsApp batch windows) are owed again.
  await bot.approver
    .resume()
    .catch((err: unknown) => o.log("bot_resume_failed", { error: (err as Error).name }));
  return {
    gateway,
    bot,
    webUrl: web.url,
    /** The demo service: what it received (tests compare it with the card that was approved). */
    demo,
    /** A one-time owner link while nobody owns this Warden, else null. */
    claimUrl: await bot.claimUrl(web.url),
    async close(): Promise<void> {
      relay?.stop();
      await bot.stop();
      await chat.close();
      await manager?.stopAll();
      await gateway.close();
      await demo.close();
      await botStore.close();
    },
  };
}

/** A card message's identity, for the set of cards that still decide something. */
function cardKey(ref: SentRef): string {
  return `${ref.platform}\u0000${ref.chatId}\u0000${ref.messageId}`;
}
