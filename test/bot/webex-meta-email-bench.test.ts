/**
 * The Email, Webex, Messenger and Instagram bench drivers complete real round trips (held → card at
 * the platform → the platform's gesture → released upstream); without Dovecot the Email driver says
 * it is skipped (with CI set, Dovecot's absence fails instead).
 */
import { describe, expect, it } from "vitest";
import { measureDriver } from "../../bench/approval.js";
import { type ApprovalDriver, DriverSkipped } from "../../bench/approval-drivers.js";
import { emailDriver } from "../../bench/platform-roundtrip-email.js";
import { instagramDriver, messengerDriver, webexDriver } from "../../bench/platform-roundtrip-webex-meta.js";
import { dovecotAvailable } from "../fakes/dovecot.js";

async function releases(make: () => Promise<ApprovalDriver>): Promise<void> {
  const driver = await make();
  try {
    const { toCard, toUpstream } = await measureDriver(driver, 3);
    expect(toCard).toHaveLength(3);
    // NaN marks a tap that released nothing within 30 s.
    expect(toUpstream.filter((x) => Number.isFinite(x))).toHaveLength(3);
  } finally {
    await driver.close();
  }
}

describe("bench: #12 drivers release each held request after the owner's gesture", () => {
  it("Webex (Approve on the Adaptive Card)", () => releases(webexDriver), 60_000);
  it("Messenger (Approve postback)", () => releases(messengerDriver), 60_000);
  it("Instagram (Approve postback)", () => releases(instagramDriver), 60_000);
  it.skipIf(!dovecotAvailable())(
    "Email (reply `approve`, real Dovecot)",
    () => releases(emailDriver),
    90_000,
  );
  it.skipIf(dovecotAvailable())("Email without Dovecot: skipped, not failed", async () => {
    await expect(emailDriver()).rejects.toBeInstanceOf(DriverSkipped);
  });
});
