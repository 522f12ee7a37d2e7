/** The Matrix bench driver completes real round trips (held → card → ✅ via /sync → released). */
import { expect, it } from "vitest";
import { measureDriver } from "../../bench/approval.js";
import { matrixDriver } from "../../bench/platform-roundtrip-matrix.js";

it("bench: the Matrix driver releases each held request after the owner's ✅", async () => {
  const driver = await matrixDriver();
  try {
    const { toCard, toUpstream } = await measureDriver(driver, 3);
    expect(toCard).toHaveLength(3);
    expect(toUpstream).toHaveLength(3);
  } finally {
    await driver.close();
  }
}, 60_000);
