/**
 * The runner's configuration, parsed once from the environment the runtime gives the container.
 * Pure: main.ts passes `process.env` in, tests pass a literal. The only values that look secret
 * (OPENAI_API_KEY, ANTHROPIC_API_KEY, DEMO_API_KEY) are placeholders; the gateway holds the real ones.
 */
import { RunnerError } from "./errors.js";

/** Which brain answers the chat. */
export type ProviderName = "demo" | "openai" | "claude";

/** Everything the runner reads from its environment. */
export interface RunnerConfig {
  readonly agent: string;
  readonly provider: ProviderName;
  /** Gateway socket (`WARDEN_SOCKET`, default `/run/warden/gateway.sock`). */
  readonly socketPath: string;
  /** `WARDEN_PROXY`, default `http://127.0.0.1:3128`; the forwarder listens on its host:port. */
  readonly proxyUrl: string;
  /** `WARDEN_CA`, default `/run/warden/ca.pem`. */
  readonly caPath: string;
  readonly workspace: string;
  /** False when `WARDEN_NO_FORWARDER=1` (runner outside a container, talking to a TCP gateway). */
  readonly forwarder: boolean;
  /**
   * Kubernetes token identity: `WARDEN_K8S_GATEWAY=HOST:PORT` makes the forwarder dial the gateway over
   * TCP and present the projected token read from `WARDEN_K8S_TOKEN_FILE` (k8s-token.ts).
   */
  readonly k8s?: {
    readonly gateway: { readonly host: string; readonly port: number };
    readonly tokenFile: string;
  };
  readonly demo: { readonly url: string; readonly apiKey?: string };
  readonly openai: { readonly baseUrl: string; readonly model: string; readonly apiKey?: string };
  readonly claude: { readonly model?: string };
  /** The whole environment, handed to the Claude SDK's child process (proxy and CA variables). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const PROVIDERS: readonly ProviderName[] = ["demo", "openai", "claude"];

/** Parses and freezes the runner's config; throws `bad_config` for an unknown provider. */
export function loadRunnerConfig(env: Readonly<Record<string, string | undefined>>): RunnerConfig {
  const get = (name: string): string | undefined => (env[name] === "" ? undefined : env[name]);
  const provider = get("WARDEN_PROVIDER") ?? "demo";
  if (!PROVIDERS.includes(provider as ProviderName)) {
    throw new RunnerError(
      "bad_config",
      `WARDEN_PROVIDER must be one of ${PROVIDERS.join(", ")}, got ${provider}`,
    );
  }
  const optional = <K extends string>(key: K, value: string | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
  return Object.freeze({
    agent: get("WARDEN_AGENT") ?? "agent",
    provider: provider as ProviderName,
    socketPath: get("WARDEN_SOCKET") ?? "/run/warden/gateway.sock",
    proxyUrl: get("WARDEN_PROXY") ?? "http://127.0.0.1:3128",
    caPath: get("WARDEN_CA") ?? "/run/warden/ca.pem",
    workspace: get("WARDEN_WORKSPACE") ?? "/workspace",
    forwarder: get("WARDEN_NO_FORWARDER") !== "1",
    ...k8sSettings(get("WARDEN_K8S_GATEWAY"), get("WARDEN_K8S_TOKEN_FILE")),
    demo: {
      url: get("WARDEN_DEMO_URL") ?? "http://demo.warden.local",
      ...optional("apiKey", get("DEMO_API_KEY")),
    },
    openai: {
      baseUrl: get("OPENAI_BASE_URL") ?? "https://api.openai.com/v1",
      model: get("OPENAI_MODEL") ?? "gpt-4o-mini",
      ...optional("apiKey", get("OPENAI_API_KEY")),
    },
    claude: optional("model", get("ANTHROPIC_MODEL")),
    env: { ...env },
  });
}

function k8sSettings(gateway: string | undefined, tokenFile: string | undefined): Pick<RunnerConfig, "k8s"> {
  if (gateway === undefined) return {};
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(gateway);
  const port = Number(m?.[2]);
  if (!m?.[1] || port < 1 || port > 65535)
    throw new RunnerError("bad_config", `WARDEN_K8S_GATEWAY must be HOST:PORT, got ${gateway}`);
  const host = m[1].replace(/^\[|\]$/g, "");
  return { k8s: { gateway: { host, port }, tokenFile: tokenFile ?? "/var/run/secrets/warden/token" } };
}
