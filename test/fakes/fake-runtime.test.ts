import { DEFAULT_LIMITS } from "../../agents/runtime.js";
import { runtimeContract } from "../contracts/runtime.contract.js";
import { createFakeRuntime } from "./fake-runtime.js";

runtimeContract("fake", async () => ({
  runtime: createFakeRuntime().runtime,
  spec: async (name) => ({
    name,
    provider: "demo",
    image: "x",
    socketDir: "/nope",
    workspaceDir: "/nope",
    env: {},
    limits: DEFAULT_LIMITS,
  }),
}));
