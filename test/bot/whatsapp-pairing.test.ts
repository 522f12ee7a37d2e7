/**
 * WhatsApp pairing through `warden start`'s wiring and the real connection code (connect.ts, with
 * baileys' makeWASocket replaced by the fake account's socket): the QR is printed in the terminal
 * and shown to the owner, and only the owner, at /pair/whatsapp; once paired it is gone.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pollUntil } from "../fakes/poll-until.js";
import { createFakeWhatsApp } from "../fakes/whatsapp-socket.js";
import { startTestWarden } from "./test-warden.js";

describe("WhatsApp pairing (warden start)", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it("prints the QR, shows it to the owner only, and drops it once paired", {
    timeout: 120_000,
  }, async () => {
    const wa = createFakeWhatsApp();
    const running = await startTestWarden("wa-pair", { whatsapp: { makeSocket: wa.makeSocket as never } });
    const { home, said } = running;
    cleanup.push(() => running.close());
    // The credentials are kept sealed in the bot store (whatsapp-store-auth.test.ts), not in a directory.
    await expect(stat(join(home, "whatsapp"))).rejects.toMatchObject({ code: "ENOENT" });

    wa.qr("2@pairing-ref,noise-key,identity-key,adv-secret");
    const printed = await pollUntil("the QR in the terminal", () =>
      said.find((l) => l.startsWith("WhatsApp: scan")),
    );
    expect(printed).toContain(`${running.webUrl}/pair/whatsapp`);
    expect(printed).toMatch(/[█▀▄]/);

    const page = (cookie?: string) =>
      fetch(`${running.webUrl}/pair/whatsapp`, { headers: cookie ? { cookie } : {} }).then(async (r) => ({
        status: r.status,
        body: await r.text(),
      }));
    const anonymous = await page();
    expect([anonymous.status, anonymous.body.includes("<svg")]).toEqual([403, false]);
    const claim = await fetch(running.claimUrl ?? "", { redirect: "manual" });
    const cookie = String(claim.headers.get("set-cookie")).split(";")[0];
    const owner = await page(cookie);
    expect(owner.status).toBe(200);
    expect(owner.body).toContain("<svg");

    wa.open();
    await pollUntil("connected", () => said.find((l) => l === "WhatsApp: connected."));
    expect((await page(cookie)).body).toMatch(/No pairing code is waiting/);
  });
});
