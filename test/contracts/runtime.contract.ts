/**
 * The `Runtime` contract, run against every implementation (the fake and Docker), so the fake the
 * manager tests trust behaves like the real engine in the ways that matter.
 */
import { describe, expect, it } from "vitest";
import type { AgentSpec, Runtime } from "../../agents/runtime.js";

export function runtimeContract(
  name: string,
  make: () => Promise<{ runtime: Runtime; spec: (n: string) => Promise<AgentSpec> }>,
): void {
  describe(`Runtime contract (${name})`, () => {
    it("start() resolves with a running handle that list() shows", async () => {
      const { runtime, spec } = await make();
      const h = await runtime.start(await spec("c1"));
      expect(h).toMatchObject({ name: "c1", state: "running" });
      expect((await runtime.list()).map((c) => c.name)).toContain("c1");
      await runtime.stop("c1");
    });

    it("stop() ends the sandbox: exited resolves and list() no longer shows it", async () => {
      const { runtime, spec } = await make();
      const h = await runtime.start(await spec("c2"));
      await runtime.stop("c2");
      await expect(h.exited).resolves.toMatchObject({ code: expect.any(Number) });
      expect((await runtime.list()).map((c) => c.name)).not.toContain("c2");
    });

    it("stop() of an unknown sandbox is not an error", async () => {
      const { runtime } = await make();
      await expect(runtime.stop("never-started")).resolves.toBeUndefined();
    });

    it("starting the same name again replaces the old sandbox", async () => {
      const { runtime, spec } = await make();
      const first = await runtime.start(await spec("c3"));
      const second = await runtime.start(await spec("c3"));
      await first.exited;
      expect((await runtime.list()).filter((c) => c.name === "c3")).toHaveLength(1);
      expect(second.id).not.toBe(first.id);
      await runtime.stop("c3");
    });

    it("cleanupOrphans() removes every sandbox it manages", async () => {
      const { runtime, spec } = await make();
      await runtime.start(await spec("c4"));
      expect(await runtime.cleanupOrphans()).toBeGreaterThanOrEqual(1);
      expect((await runtime.list()).map((c) => c.name)).not.toContain("c4");
    });
  });
}
