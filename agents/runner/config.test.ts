import { describe, expect, it } from "vitest";
import { loadRunnerConfig } from "./config.js";

describe("loadRunnerConfig()", () => {
  it("applies the container defaults", () => {
    const c = loadRunnerConfig({});
    expect(c).toMatchObject({
      agent: "agent",
      provider: "demo",
      socketPath: "/run/warden/gateway.sock",
      proxyUrl: "http://127.0.0.1:3128",
      caPath: "/run/warden/ca.pem",
      workspace: "/workspace",
      forwarder: true,
      demo: { url: "http://demo.warden.local" },
      openai: { baseUrl: "https://api.openai.com/v1", model: "gpt-4o-mini" },
    });
    expect(c.openai.apiKey).toBeUndefined();
  });

  it("reads every variable it documents", () => {
    const c = loadRunnerConfig({
      WARDEN_AGENT: "mailer",
      WARDEN_PROVIDER: "openai",
      WARDEN_SOCKET: "/s.sock",
      WARDEN_PROXY: "http://a:b@127.0.0.1:9",
      WARDEN_CA: "/ca.pem",
      WARDEN_WORKSPACE: "/w",
      WARDEN_NO_FORWARDER: "1",
      WARDEN_DEMO_URL: "http://127.0.0.1:5",
      DEMO_API_KEY: "wdn_demo",
      OPENAI_BASE_URL: "http://127.0.0.1:11434/v1",
      OPENAI_MODEL: "llama",
      OPENAI_API_KEY: "wdn_oa",
      ANTHROPIC_MODEL: "claude-x",
    });
    expect(c).toMatchObject({
      agent: "mailer",
      provider: "openai",
      socketPath: "/s.sock",
      proxyUrl: "http://a:b@127.0.0.1:9",
      caPath: "/ca.pem",
      workspace: "/w",
      forwarder: false,
      demo: { url: "http://127.0.0.1:5", apiKey: "wdn_demo" },
      openai: { baseUrl: "http://127.0.0.1:11434/v1", model: "llama", apiKey: "wdn_oa" },
      claude: { model: "claude-x" },
    });
  });

  it("reads WARDEN_K8S_GATEWAY as HOST:PORT, an IPv6 host in brackets", () => {
    const k8s = (g: string) => loadRunnerConfig({ WARDEN_K8S_GATEWAY: g }).k8s;
    expect(k8s("10.0.0.7:7480")).toEqual({
      gateway: { host: "10.0.0.7", port: 7480 },
      tokenFile: "/var/run/secrets/warden/token",
    });
    expect(k8s("[fd00::1]:7480")?.gateway).toEqual({ host: "fd00::1", port: 7480 });
    // Unbracketed, the last colon would be ambiguous: refused rather than guessed.
    for (const bad of ["fd00::1:7480", "[fd00::1]", "h:0", "h:70000", "a b:1"])
      expect(() => k8s(bad)).toThrow(/WARDEN_K8S_GATEWAY/);
  });

  it("rejects an unknown provider", () => {
    expect(() => loadRunnerConfig({ WARDEN_PROVIDER: "gpt" })).toThrow(/WARDEN_PROVIDER/);
  });
});
