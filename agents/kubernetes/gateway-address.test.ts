/**
 * resolveGateway() and gatewayResolver(): a gateway named by host reaches Pods as an IP (they have no
 * DNS), an IP is used as it is without a lookup, a failed or non-IP answer is `RuntimeUnavailable`
 * naming the host, and the resolution happens once (a failure is retried at the next start). The
 * lookup is injected: no DNS query leaves this machine.
 */
import { describe, expect, it } from "vitest";
import { RuntimeUnavailable } from "../runtime.js";
import { gatewayResolver, resolveGateway } from "./gateway-address.js";

const fail = (code: string) => async (): Promise<string> => {
  throw Object.assign(new Error(`getaddrinfo ${code} secret-ish detail`), { code });
};

describe("resolveGateway()", () => {
  it("resolves a host name to the first address the lookup gives", async () => {
    const asked: string[] = [];
    const lookup = async (h: string) => {
      asked.push(h);
      return "10.96.0.9";
    };
    const gw = { host: "warden-gateway.warden.svc", port: 7480 };
    expect(await resolveGateway(gw, lookup)).toEqual({ host: "10.96.0.9", port: 7480 });
    expect(asked).toEqual(["warden-gateway.warden.svc"]);
  });

  it("keeps an IPv4 or IPv6 gateway as it is, without a lookup", async () => {
    const never = async (): Promise<string> => {
      throw new Error("looked up an IP");
    };
    expect(await resolveGateway({ host: "10.0.0.7", port: 1 }, never)).toEqual({ host: "10.0.0.7", port: 1 });
    expect(await resolveGateway({ host: "fd00::1", port: 2 }, never)).toEqual({ host: "fd00::1", port: 2 });
  });

  it("a failed lookup is RuntimeUnavailable naming the host, with the error code only", async () => {
    const err = await resolveGateway({ host: "gw.example", port: 1 }, fail("ENOTFOUND")).catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeUnavailable);
    expect(err).toMatchObject({ code: "runtime_unavailable", status: 503, resource: "gateway gw.example" });
    expect(err.message).toContain("gw.example");
    expect(err.message).toContain("ENOTFOUND");
    expect(err.message).not.toContain("secret-ish");
  });

  it("refuses an answer that is not an IP address", async () => {
    await expect(resolveGateway({ host: "gw.example", port: 1 }, async () => "evil.example")).rejects.toThrow(
      RuntimeUnavailable,
    );
  });
});

describe("gatewayResolver()", () => {
  it("looks up once, and again only after a failure", async () => {
    let calls = 0;
    let broken = true;
    const lookup = async () => {
      calls++;
      if (broken) throw Object.assign(new Error("x"), { code: "EAI_AGAIN" });
      return "10.96.0.9";
    };
    const resolve = gatewayResolver({ host: "gw.example", port: 7480 }, lookup);
    await expect(resolve()).rejects.toThrow(/gw\.example.*EAI_AGAIN/);
    broken = false;
    expect(await resolve()).toEqual({ host: "10.96.0.9", port: 7480 });
    expect(await resolve()).toEqual({ host: "10.96.0.9", port: 7480 });
    expect(calls).toBe(2);
  });
});
